"""A cut's evidence as one image: the last frame before the cut and the first after it, side
by side, over the shot detector's probability curve around the cut (the threshold drawn as a
dashed line, the cut marked). Decoded on demand from the original (a seek and a few frames)."""

from __future__ import annotations

import io

import numpy as np
from glassbox.config import get_settings
from glassbox.media import video_frames
from glassbox.media.video import VideoDecodeError
from PIL import Image, ImageDraw

from .models import MediaItem, Shot

FRAME_SIDE = 240
DECODE_ERRORS = (VideoDecodeError, *video_frames.DECODE_ERRORS, OSError)
CURVE_HEIGHT = 80
MARGIN = 6


def cut_evidence_png(item: MediaItem, shot: Shot) -> bytes | None:
    """PNG bytes, or None when the window does not start with a cut."""
    if shot.cut_probability is None:
        return None
    fps = float(item.fps or 25.0)
    before_t, after_t = max(shot.start_s - 1.0 / fps, 0.0), shot.start_s
    frames = video_frames.frames_at(item.file.path, [before_t, after_t], FRAME_SIDE, by="time")
    (_, before), (_, after) = frames
    h = max(before.shape[0], after.shape[0])
    w = before.shape[1] + after.shape[1] + MARGIN
    canvas = Image.new("RGB", (w, h + CURVE_HEIGHT + MARGIN), (255, 255, 255))
    canvas.paste(Image.fromarray(np.asarray(before)), (0, 0))
    canvas.paste(Image.fromarray(np.asarray(after)), (before.shape[1] + MARGIN, 0))
    _curve(ImageDraw.Draw(canvas), shot, (0, h + MARGIN, w, h + MARGIN + CURVE_HEIGHT))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _curve(draw: ImageDraw.ImageDraw, shot: Shot, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    times = [float(t) for t in (shot.cut_curve or {}).get("times", [])]
    probs = [float(p) for p in (shot.cut_curve or {}).get("probabilities", [])]
    draw.rectangle(box, outline=(200, 200, 200))
    if len(times) < 2 or len(times) != len(probs):
        return
    lo, hi = min(times), max(times)
    span = max(hi - lo, 1e-6)

    def point(t: float, p: float) -> tuple[float, float]:
        return (x0 + (t - lo) / span * (x1 - x0), y1 - min(max(p, 0.0), 1.0) * (y1 - y0))

    threshold = get_settings().video_shot_threshold
    ty = point(lo, threshold)[1]
    for x in range(x0, x1, 8):  # dashed threshold line
        draw.line([(x, ty), (min(x + 4, x1), ty)], fill=(150, 150, 150))
    draw.line([point(t, p) for t, p in zip(times, probs, strict=True)], fill=(200, 30, 30), width=2)
    cx = point(shot.start_s, 0.0)[0]
    draw.line([(cx, y0), (cx, y1)], fill=(30, 30, 200))
