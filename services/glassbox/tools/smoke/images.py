"""The images the smoke checks send, also used by the tests: text rendered with Pillow, and
photos read as RGB arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SMOKE_TEXT = "GLASSBOX 2026"
DOG_PHOTO = Path("/usr/share/darknet/data/dog.jpg")  # Debian package darknet
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",  # Debian fonts-liberation
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)


def render_text(
    text: str = SMOKE_TEXT,
    size: tuple[int, int] = (800, 240),
    font_px: int = 72,
    origin: tuple[int, int] = (40, 80),
) -> np.ndarray:
    """Black text on white, RGB uint8 ``[H, W, 3]`` (``size`` is width, height)."""
    from PIL import Image, ImageDraw, ImageFont

    font = None
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            font = ImageFont.truetype(path, font_px)
            break
    if font is None:
        font = ImageFont.load_default(size=font_px)
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text(origin, text, font=font, fill="black")
    return np.asarray(image, dtype=np.uint8).copy()


def load_rgb(path: Path | str) -> np.ndarray:
    """An image file as RGB uint8 ``[H, W, 3]``."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
