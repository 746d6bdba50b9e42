"""A sample image that really triggers a default policy: a contact card with a phone number
and an e-mail address, drawn large and clear on a plain background (Pillow only).

The demo's seeding and the integration tests both render it, so the review queue has work
with real evidence: the ``ocr`` model reads the lines, and ``personal-data`` flags them.
The number is one of Ofcom's drama numbers (020 7946 0000 to 0999, never assigned) and the
address is at ``example.org`` (RFC 2606), so the card holds no one's real data.
"""

from __future__ import annotations

import io
from pathlib import Path

CARD_NAME = "Jane Doe"
CARD_PHONE = "+44 20 7946 0958"
CARD_EMAIL = "jane.doe@example.org"
CARD_SIZE = (960, 540)  # width, height
# Fonts the setup installs (fonts-liberation with `infra/bin/setup --test`; DejaVu comes with
# most desktops and browsers); without them, Pillow's own scalable font (FreeType builds).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def card_lines(
    name: str = CARD_NAME, phone: str = CARD_PHONE, email: str = CARD_EMAIL
) -> tuple[str, ...]:
    """The card's text, one entry a line, top to bottom."""
    return (name, f"Tel {phone}", email)


def render_card(
    name: str = CARD_NAME,
    phone: str = CARD_PHONE,
    email: str = CARD_EMAIL,
    size: tuple[int, int] = CARD_SIZE,
    font_px: int = 56,
) -> bytes:
    """The card as PNG bytes: dark text on an off-white background, a line each for the
    name, the phone number and the e-mail address, left-aligned with a margin."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font = _font(font_px)
    lines = card_lines(name, phone, email)
    step = round(font_px * 1.9)
    top = max(0, (height - step * (len(lines) - 1) - font_px) // 2)
    for k, text in enumerate(lines):
        draw.text((round(width * 0.08), top + k * step), text, font=font, fill=(20, 24, 32))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def personal_data_card() -> bytes:
    """The demo's and the tests' card: :func:`render_card` with its defaults (PNG bytes)."""
    return render_card()


def _font(px: int):
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, px)
    return ImageFont.load_default(size=px)
