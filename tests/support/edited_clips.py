"""Edited clips rendered from still photos, with hard cuts and one cross-fade each at known
frames: the ground truth of shot-detection tests (tests/integration) and of bench/video.py.
Seeded, so every run renders the same set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

RENDER_SIZE = (320, 240)
FADE_FRAMES = 12


def render_set(photos: Sequence[Path], n: int, seed: int = 7) -> list[tuple[np.ndarray, list[int]]]:
    """``n`` clips of 4-6 shots of ``photos`` (each with a slow zoom, so a shot is not a
    still): hard cuts, and one cross-fade of ``FADE_FRAMES`` frames per clip. Returns, per
    clip, its frames at the shot detector's size ``[N, 27, 48, 3]`` and the true cut frames
    (the first frame of each new shot; the middle of the cross-fade)."""
    rng = np.random.default_rng(seed)
    pictures = [np.asarray(Image.open(p).convert("RGB").resize(RENDER_SIZE)) for p in photos]
    clips = []
    for _ in range(n):
        order = rng.permutation(len(pictures))[: rng.integers(4, 7)]
        lengths = rng.integers(30, 90, size=len(order))
        fade_at = int(rng.integers(1, len(order)))
        frames: list[np.ndarray] = []
        cuts: list[int] = []
        for k, (pic, length) in enumerate(zip(order, lengths, strict=True)):
            shot = [zoom(pictures[pic], i / max(length - 1, 1)) for i in range(length)]
            if k == fade_at:  # the previous shot's last frames fade into this one's first
                prev = frames[-FADE_FRAMES:]
                del frames[-FADE_FRAMES:]
                for j, a in enumerate(prev):
                    w = (j + 1) / (FADE_FRAMES + 1)
                    frames.append((a * (1 - w) + shot[j] * w).astype(np.uint8))
                cuts.append(len(frames) - FADE_FRAMES // 2)
                frames.extend(shot[FADE_FRAMES:])
                continue
            if k:
                cuts.append(len(frames))
            frames.extend(shot)
        clips.append((np.stack([small(f) for f in frames]), cuts))
    return clips


def zoom(img: np.ndarray, t: float) -> np.ndarray:
    """``img`` cropped by up to 8 % at ``t`` = 1 and scaled back: a slow push-in."""
    h, w = img.shape[:2]
    m = int(0.08 * t * min(h, w))
    crop = img[m : h - m or h, m : w - m or w]
    return np.asarray(Image.fromarray(crop).resize((w, h)))


def small(img: np.ndarray) -> np.ndarray:
    """A frame at the shot detector's input size, 48 x 27."""
    return np.asarray(Image.fromarray(img).resize((48, 27), Image.BICUBIC))
