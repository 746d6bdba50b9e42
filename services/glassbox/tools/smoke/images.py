"""The images the smoke checks send, also used by the tests: text rendered with Pillow,
photos read as RGB arrays, and a synthetic clip with one hard cut (numpy)."""

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


def cut_clip(before: int = 60, after: int = 60) -> np.ndarray:
    """A synthetic clip at TransNetV2's size, RGB uint8 ``[before + after, 27, 48, 3]``, with one
    hard cut: frame ``before`` is the first of the second shot. Shot one: a blue-to-orange
    left-to-right gradient with a pale disc drifting right; shot two: a green-to-magenta
    top-to-bottom gradient with a dark square drifting left. Smooth, no noise, slight motion
    (so neither shot is a still)."""
    height, width = 27, 48
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)

    def blend(t: np.ndarray, a: tuple, b: tuple) -> np.ndarray:
        return (1 - t)[..., None] * np.array(a, np.float32) + t[..., None] * np.array(b, np.float32)

    frames = []
    for i in range(before + after):
        if i < before:
            image = blend(x / (width - 1), (20, 40, 140), (240, 160, 60))
            cx, cy = 12 + 0.2 * i, 13.0
            inside = np.clip(6.5 - np.hypot(x - cx, y - cy), 0, 1)  # anti-aliased disc, r = 6
            image = image * (1 - inside[..., None]) + inside[..., None] * np.float32(235)
        else:
            image = blend(y / (height - 1), (40, 200, 70), (200, 40, 180))
            cx = 34 - 0.2 * (i - before)
            across = np.clip(5.5 - np.abs(x - cx), 0, 1)  # anti-aliased square, side 10
            down = np.clip(5.5 - np.abs(y - 13), 0, 1)
            inside = np.minimum(across, down)
            image = image * (1 - inside[..., None]) + inside[..., None] * np.float32(25)
        frames.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    return np.stack(frames)
