"""Shots: TransNetV2's per-frame cut probabilities into shots, the evidence of a cut, a
content-difference baseline detector and the F1 score that compares detectors (numpy only).

The probabilities ``p`` have one value per frame; a high ``p[i]`` says that frame ``i`` is the
first frame of a new shot. A contiguous run of frames above the threshold is *one* transition
(a cross-fade lights up several frames): its cut is placed at the run's **peak**, the frame
with the highest probability, since TransNetV2 peaks on the frame of a hard cut and near the
centre of a gradual one; when several frames share the peak (a flat plateau), at the middle
of those frames. A cut on frame 0 starts nothing and is ignored.

Shots shorter than ``min_shot_frames`` are merged into a neighbour, the shortest first: of the
two cuts around it the weaker one (lower peak probability) is dropped, so the short shot joins
the neighbour it was least clearly separated from (the first and last shots have one cut to
drop; on a tie, it joins the previous shot). A non-empty video always has at least one shot.

Frames are counted from 0 and a shot's ``end_frame`` is exclusive. Frame ``i`` starts at
``frame_times_s[i]`` when the caller has the frames' presentation times (a variable frame
rate; ``glassbox.media.video_frames`` returns them), else at ``i / fps`` seconds; the end of
the last frame is one ``1 / fps`` after its start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLD = 0.5
# Shortest shot kept, in seconds, when no min_shot_frames is given: shorter "shots" are
# flashes or a transition split in two, not a shot an editor cut.
MIN_SHOT_S = 0.25
# The baseline detector: a cut needs its frame difference to be ADAPTIVE_RATIO times the mean
# of its neighbours' (PySceneDetect's adaptive_threshold is 3.0) and at least MIN_DIFFERENCE
# (mean absolute difference on the 0-255 scale).
ADAPTIVE_RATIO = 3.0
ADAPTIVE_WINDOW = 2
MIN_DIFFERENCE = 10.0


@dataclass(frozen=True)
class Cut:
    """One transition: the frames ``first_frame`` .. ``end_frame - 1`` above the threshold,
    its cut ``frame`` (the first frame of the new shot) and its peak ``probability``."""

    frame: int
    probability: float
    first_frame: int
    end_frame: int


@dataclass(frozen=True)
class Shot:
    """Frames ``start_frame`` .. ``end_frame - 1``; ``cut_probability`` is the peak of the cut
    that starts the shot, ``None`` for the first shot (no cut starts it)."""

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    cut_probability: float | None

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class CutEvidence:
    """The curve around a cut for the UI: ``probabilities[k]`` at ``times[k]`` seconds."""

    frame: int
    time_s: float
    probability: float
    times: tuple[float, ...]
    probabilities: tuple[float, ...]

    @property
    def label(self) -> str:
        """ "cut at 0:04.13, p = 0.97"."""
        return f"cut at {format_time(self.time_s)}, p = {self.probability:.2f}"


@dataclass(frozen=True)
class CutScore:
    """Detected cuts against the true ones: ``matched`` pairs within the tolerance."""

    precision: float
    recall: float
    f1: float
    matched: int


def format_time(seconds: float, *, hundredths: bool = True) -> str:
    """``4.13`` -> "0:04.13" (minutes:seconds.hundredths), ``3723.5`` -> "1:02:03.50" (hours
    when needed); ``hundredths=False`` gives "0:04". Rounded to the nearest hundredth (or
    second), half up, before it is split, so 59.999 s reads "1:00.00"."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a time must be a finite number of seconds >= 0, not {seconds!r}")
    scale = 100 if hundredths else 1
    units = math.floor(seconds * scale + 0.5)
    whole, fraction = divmod(units, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{fraction:02d}" if hundredths else text


def _probabilities(p: Sequence[float] | np.ndarray) -> np.ndarray:
    probs = np.asarray(p, dtype=np.float64)
    if probs.ndim != 1:
        raise ValueError(f"cut probabilities must be one value per frame, not shape {probs.shape}")
    if not np.isfinite(probs).all():
        raise ValueError("cut probabilities must be finite")
    return probs


def _check_fps(fps: float) -> None:
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps!r}")


def frame_clock(
    n: int, fps: float, frame_times_s: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """``n + 1`` times: the start of each of ``n`` frames, then the end of the last (module
    docstring); ``frame_times_s`` must hold ``n`` finite, non-decreasing times."""
    _check_fps(fps)
    if frame_times_s is None:
        return np.arange(n + 1) / fps
    t = np.asarray(frame_times_s, dtype=np.float64)
    if t.shape != (n,) or not np.isfinite(t).all() or (np.diff(t) < 0).any():
        raise ValueError(f"frame_times_s must be {n} finite, non-decreasing times")
    return np.append(t, t[-1] + 1 / fps) if n else np.zeros(1)


def detect_cuts(p: Sequence[float] | np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[Cut]:
    """The transitions of ``p``, in frame order: each run of frames with ``p > threshold`` is
    one :class:`Cut`, placed at its peak (the middle of a flat peak). Cuts on frame 0 are
    dropped."""
    probs = _probabilities(p)
    above = np.concatenate(([False], probs > threshold, [False]))
    edges = np.flatnonzero(above[1:] != above[:-1])
    cuts = []
    for first, end in zip(edges[::2], edges[1::2], strict=True):
        run = probs[first:end]
        tied = np.flatnonzero(run == run.max())
        frame = int(first + tied[(len(tied) - 1) // 2])
        if frame > 0:
            cuts.append(Cut(frame, float(probs[frame]), int(first), int(end)))
    return cuts


def shots_from_probabilities(
    p: Sequence[float] | np.ndarray,
    fps: float,
    threshold: float = DEFAULT_THRESHOLD,
    min_shot_frames: int | None = None,
    frame_times_s: Sequence[float] | np.ndarray | None = None,
) -> list[Shot]:
    """The shots of a video of ``len(p)`` frames (module docstring: where a cut goes, how short
    shots merge, the times). ``min_shot_frames`` defaults to :data:`MIN_SHOT_S` seconds of
    frames (at least 1). One shot covers everything when there is no cut; ``[]`` only for no
    frames."""
    probs = _probabilities(p)
    n = len(probs)
    clock = frame_clock(n, fps, frame_times_s)
    if n == 0:
        return []
    if min_shot_frames is None:
        min_shot_frames = max(1, math.ceil(MIN_SHOT_S * fps))
    cuts = detect_cuts(probs, threshold)
    bounds = [0] + [c.frame for c in cuts] + [n]
    strength = [c.probability for c in cuts]  # strength[j]: the cut at bounds[j + 1]
    while len(bounds) > 2:
        lengths = np.diff(bounds)
        shortest = int(np.argmin(lengths))  # the earliest of the shortest
        if lengths[shortest] >= min_shot_frames:
            break
        if shortest == 0:
            drop = 0  # its end cut
        elif shortest == len(lengths) - 1:
            drop = shortest - 1  # its start cut
        else:
            before, after = strength[shortest - 1], strength[shortest]
            drop = shortest if after < before else shortest - 1
        del bounds[drop + 1]
        del strength[drop]
    return [
        Shot(
            index=k,
            start_frame=start,
            end_frame=end,
            start_s=float(clock[start]),
            end_s=float(clock[end]),
            cut_probability=None if k == 0 else strength[k - 1],
        )
        for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]


def cut_evidence(
    p: Sequence[float] | np.ndarray,
    cut_frame: int,
    fps: float,
    radius_frames: int = 12,
    frame_times_s: Sequence[float] | np.ndarray | None = None,
) -> CutEvidence:
    """The probabilities of the frames within ``radius_frames`` of ``cut_frame`` (clipped to
    the video), with their times, and the probability at the cut itself."""
    probs = _probabilities(p)
    clock = frame_clock(len(probs), fps, frame_times_s)
    if not 0 <= cut_frame < len(probs):
        raise ValueError(f"frame {cut_frame} is outside the video's {len(probs)} frames")
    if radius_frames < 0:
        raise ValueError("radius_frames must be >= 0")
    lo, hi = max(0, cut_frame - radius_frames), min(len(probs), cut_frame + radius_frames + 1)
    return CutEvidence(
        frame=int(cut_frame),
        time_s=float(clock[cut_frame]),
        probability=float(probs[cut_frame]),
        times=tuple(float(t) for t in clock[lo:hi]),
        probabilities=tuple(float(v) for v in probs[lo:hi]),
    )


def frame_differences(frames_small: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``d[i - 1]``: the mean absolute difference (0-255) between frames ``i - 1`` and ``i``,
    for uint8 frames ``[N, H, W, 3]``; ``N - 1`` values."""
    frames = np.asarray(frames_small)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3], not shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, not {frames.dtype}")
    out = np.empty(max(0, len(frames) - 1), dtype=np.float64)
    for lo in range(0, len(out), chunk):
        block = frames[lo : lo + chunk + 1].astype(np.int16)
        out[lo : lo + chunk] = np.abs(np.diff(block, axis=0)).mean(axis=(1, 2, 3))
    return out


def cuts_by_difference(
    frames_small: np.ndarray,
    threshold: float = ADAPTIVE_RATIO,
    window: int = ADAPTIVE_WINDOW,
    min_difference: float = MIN_DIFFERENCE,
    min_gap_frames: int = 1,
) -> list[int]:
    """A baseline to compare TransNetV2 with (after PySceneDetect's adaptive detector): frame
    ``i`` starts a new shot when its difference from frame ``i - 1`` is at least ``threshold``
    times the mean difference of the ``window`` frame pairs on either side of it (fewer at the
    ends) and at least ``min_difference``. Cuts closer than ``min_gap_frames`` keep the
    larger difference. A slow dissolve changes every frame a little and is missed; a pan
    changes every frame a lot and is not a cut. Returns the cut frames, ascending."""
    d = frame_differences(frames_small)
    if window < 1:
        raise ValueError("window must be >= 1")
    if len(d) == 0:
        return []
    padded = np.concatenate(([0.0], np.cumsum(d)))
    idx = np.arange(len(d))
    lo, hi = np.maximum(idx - window, 0), np.minimum(idx + window + 1, len(d))
    count = hi - lo - 1
    neighbours = padded[hi] - padded[lo] - d
    mean = np.divide(neighbours, count, out=np.zeros_like(d), where=count > 0)
    hits = np.flatnonzero((d >= min_difference) & (d >= threshold * mean))
    kept: list[int] = []
    for i in hits:
        if kept and i - kept[-1] < min_gap_frames:
            if d[i] > d[kept[-1]]:
                kept[-1] = int(i)
            continue
        kept.append(int(i))
    return [i + 1 for i in kept]


def f1_of_cuts(
    predicted_frames: Sequence[int], true_frames: Sequence[int], tolerance_frames: int = 2
) -> CutScore:
    """Precision, recall and F1 of predicted cuts against true ones: a prediction matches at
    most one true cut within ``tolerance_frames`` and the other way round (the greedy pass
    over both sorted lists finds the largest such matching). No predictions have precision 1;
    no true cuts, recall 1."""
    if tolerance_frames < 0:
        raise ValueError("tolerance_frames must be >= 0")
    pred, true = sorted(predicted_frames), sorted(true_frames)
    i = j = matched = 0
    while i < len(pred) and j < len(true):
        if abs(pred[i] - true[j]) <= tolerance_frames:
            matched, i, j = matched + 1, i + 1, j + 1
        elif pred[i] < true[j]:
            i += 1
        else:
            j += 1
    precision = matched / len(pred) if pred else 1.0
    recall = matched / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return CutScore(precision, recall, f1, matched)
