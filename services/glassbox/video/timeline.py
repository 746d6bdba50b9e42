"""Time-ranged insights (in the manner of Azure Video Indexer): per-keyframe observations into
per-shot instances, merged time ranges and a whole-video score, and their text.

Plain inputs, no ORM: an :class:`Observation` is "tag *dog* seen on keyframe ``k`` of shot
``s`` with score 0.8"; a shot is anything with ``index``, ``start_s`` and ``end_s``
(:class:`glassbox.video.shots.Shot`).

:func:`aggregate` works in three steps:

1. **per shot**: ``per_shot="max"`` (the default) keeps the best keyframe's score: a concept
   seen clearly on one keyframe is in the shot, even if the camera moved off it for the
   others. ``"mean"`` averages over the shot's keyframes, a keyframe that did not report the
   concept counting 0 (the shot's keyframes: those given as ``keyframes``, else every frame any
   observation of that shot names). Shots scoring 0 or under ``min_confidence`` are dropped.
   The instance's ``keyframe_frame`` is its best keyframe, the evidence to show;
2. **ranges**: instances whose gap (next start - previous end) is at most ``gap_tolerance_s``
   merge into one (consecutive shots touch, gap 0), so a concept that drops out for one short
   shot keeps one range; a merged range's confidence is its shots' duration-weighted mean,
   its keyframe and shot those of its most confident shot;
3. **the video**: ``confidence`` = sum over the shots of duration x per-shot confidence /
   video duration (a shot without the concept counts 0; bridged gaps count 0), ``coverage`` =
   the share of the video the merged ranges cover.

Times in text are whole seconds ("0:04", rounded to the nearest; hundredths when a short range
would read as an instant), ranges joined by an en dash.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from glassbox.video.shots import format_time

EN_DASH = "\u2013"
DEFAULT_GAP_TOLERANCE_S = 0.5
DEFAULT_MAX_RANGES = 3
_EPS = 1e-9


class ShotSpan(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True)
class Observation:
    """A concept reported on one keyframe: ``key`` identifies it, ``name`` is its display."""

    key: str
    name: str
    shot_index: int
    keyframe_frame: int
    score: float
    kind: str = "tag"


@dataclass(frozen=True)
class Instance:
    """A time range where an insight holds, with the keyframe that shows it best."""

    start_s: float
    end_s: float
    confidence: float
    keyframe_frame: int
    shot_index: int

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Insight:
    """One concept over the video: its merged ranges and whole-video scores."""

    key: str
    name: str
    instances: tuple[Instance, ...]
    confidence: float
    coverage: float
    kind: str = "tag"


def format_span(start_s: float, end_s: float) -> str:
    """ "0:00–0:04": both ends to the nearest second, or to the hundredth when that would make
    a range of non-zero length read as an instant."""
    if end_s < start_s:
        raise ValueError(f"a range must not end ({end_s}) before it starts ({start_s})")
    a, b = format_time(start_s, hundredths=False), format_time(end_s, hundredths=False)
    if a == b and end_s > start_s:
        a, b = format_time(start_s), format_time(end_s)
    return f"{a}{EN_DASH}{b}"


def covered_s(instances: Iterable[Instance], duration_s: float | None = None) -> float:
    """Seconds covered by the union of the instances' ranges (clipped to ``[0, duration_s]``)."""
    spans = sorted((i.start_s, i.end_s) for i in instances)
    total, reach = 0.0, -math.inf
    for start, end in spans:
        if duration_s is not None:
            start, end = max(0.0, start), min(duration_s, end)
        start = max(start, reach)
        if end > start:
            total += end - start
            reach = end
    return total


def merge_instances(
    instances: Iterable[Instance], gap_tolerance_s: float = DEFAULT_GAP_TOLERANCE_S
) -> list[Instance]:
    """Instances in time order, those at most ``gap_tolerance_s`` apart merged (module
    docstring, step 2)."""
    if gap_tolerance_s < 0:
        raise ValueError("gap_tolerance_s must be >= 0")
    groups: list[list[Instance]] = []
    for inst in sorted(instances, key=lambda i: (i.start_s, i.end_s)):
        if groups and inst.start_s - max(i.end_s for i in groups[-1]) <= gap_tolerance_s + _EPS:
            groups[-1].append(inst)
        else:
            groups.append([inst])
    return [_merged(group) for group in groups]


def _merged(group: list[Instance]) -> Instance:
    if len(group) == 1:
        return group[0]
    weights = [max(0.0, i.duration_s) for i in group]
    total = sum(weights)
    if total > 0:
        confidence = sum(w * i.confidence for w, i in zip(weights, group, strict=True)) / total
    else:
        confidence = sum(i.confidence for i in group) / len(group)
    best = max(group, key=lambda i: (i.confidence, -i.start_s))
    return replace(
        best,
        start_s=group[0].start_s,
        end_s=max(i.end_s for i in group),
        confidence=confidence,
    )


def aggregate(
    observations: Iterable[Observation],
    shots: Sequence[ShotSpan],
    *,
    duration_s: float | None = None,
    per_shot: str = "max",
    gap_tolerance_s: float = DEFAULT_GAP_TOLERANCE_S,
    min_confidence: float = 0.0,
    keyframes: Iterable[tuple[int, int]] | None = None,
) -> list[Insight]:
    """The insights of a video (module docstring), most confident first (then by name).
    ``duration_s`` defaults to the last shot's end; ``keyframes`` are ``(shot_index, frame)``
    pairs, used by ``per_shot="mean"``."""
    if per_shot not in ("max", "mean"):
        raise ValueError(f"per_shot must be 'max' or 'mean', not {per_shot!r}")
    by_index = {s.index: s for s in shots}
    if duration_s is None:
        duration_s = max((s.end_s for s in shots), default=0.0)
    if not duration_s > 0:
        raise ValueError("the video's duration must be > 0")
    # key -> shot -> frame -> best score on that frame
    seen: dict[str, dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    names: dict[str, tuple[str, str]] = {}
    frames_of: dict[int, set[int]] = defaultdict(set)
    for obs in observations:
        if obs.shot_index not in by_index:
            raise ValueError(f"an observation of {obs.name!r} names unknown shot {obs.shot_index}")
        if not 0.0 <= obs.score <= 1.0:
            raise ValueError(f"a score must be in [0, 1], not {obs.score!r} ({obs.name!r})")
        frames = seen[obs.key][obs.shot_index]
        frames[obs.keyframe_frame] = max(obs.score, frames.get(obs.keyframe_frame, 0.0))
        names.setdefault(obs.key, (obs.name, obs.kind))
        frames_of[obs.shot_index].add(obs.keyframe_frame)
    if keyframes is not None:
        frames_of = defaultdict(set)
        for shot_index, frame in keyframes:
            frames_of[shot_index].add(frame)
    insights = []
    for key, shots_seen in seen.items():
        per_shot_instances = []
        for shot_index, frames in shots_seen.items():
            shot = by_index[shot_index]
            best = min(frames, key=lambda f: (-frames[f], f))
            if per_shot == "max":
                score = frames[best]
            else:
                score = sum(frames.values()) / max(len(frames_of[shot_index] | set(frames)), 1)
            if score > 0 and score >= min_confidence:
                per_shot_instances.append(
                    Instance(shot.start_s, shot.end_s, score, best, shot_index)
                )
        if not per_shot_instances:
            continue
        weighted = sum(max(0.0, i.duration_s) * i.confidence for i in per_shot_instances)
        ranges = merge_instances(per_shot_instances, gap_tolerance_s)
        name, kind = names[key]
        insights.append(
            Insight(
                key=key,
                name=name,
                instances=tuple(ranges),
                confidence=min(1.0, weighted / duration_s),
                coverage=min(1.0, covered_s(ranges, duration_s) / duration_s),
                kind=kind,
            )
        )
    return sorted(insights, key=lambda i: (-i.confidence, i.name, i.key))


def _share(fraction: float) -> str:
    percent = 100.0 * fraction
    if 0 < percent < 1:
        return "under 1%"
    if 99 < percent < 100:
        return "over 99%"
    return f"{math.floor(percent + 0.5)}%"


def _and(parts: list[str], more: int = 0) -> str:
    if more:
        return f"{', '.join(parts)} and {more} more"
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def justify_ranges(
    name: str,
    instances: Sequence[Instance],
    duration_s: float,
    max_ranges: int = DEFAULT_MAX_RANGES,
) -> str:
    """ "dog, 0:00–0:04 and 0:07–0:09, 62% of the video": the first ``max_ranges`` ranges in
    time order ("and K more" for the rest) and the share of the video they cover."""
    if not duration_s > 0:
        raise ValueError("the video's duration must be > 0")
    if max_ranges < 1:
        raise ValueError("max_ranges must be >= 1")
    if not instances:
        return f"{name}, not seen in the video"
    ordered = sorted(instances, key=lambda i: (i.start_s, i.end_s))
    spans = [format_span(i.start_s, i.end_s) for i in ordered[:max_ranges]]
    share = _share(min(1.0, covered_s(ordered, duration_s) / duration_s))
    return f"{name}, {_and(spans, len(ordered) - len(spans))}, {share} of the video"


def _sentence(caption: str) -> str:
    text = " ".join(caption.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _same(a: str, b: str) -> bool:
    return a.rstrip(".!?").casefold() == b.rstrip(".!?").casefold()


def summary_of_captions(shots_with_captions: Iterable[tuple[float, float, str]]) -> str:
    """ "0:00–0:04: A dog on grass. 0:04–0:09: Two people talking.": ``(start_s, end_s,
    caption)`` in time order; adjacent equal captions (ignoring case, spacing and the final
    full stop) merge into one range, and shots without a caption are left out (they separate
    the captions around them)."""
    merged: list[list] = []  # [start, end, sentence]
    previous_blank = True
    for start, end, caption in shots_with_captions:
        sentence = _sentence(caption or "")
        if not sentence:
            previous_blank = True
            continue
        if merged and not previous_blank and _same(merged[-1][2], sentence):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, sentence])
        previous_blank = False
    return " ".join(f"{format_span(s, e)}: {text}" for s, e, text in merged)
