"""What a video's page and player show, from its stored rows: the playable source, the
timeline (shots and their cuts, each tag's time ranges, read text, moderation's flagged
ranges, each range with the keyframe and heat map that are its evidence), the progress of
its analysis, and its two WebVTT tracks.

Plain data for the templates, which escape every piece (captions, names, read text are
untrusted); positions are numbers formatted here, never text from the data.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db.models.fields.files import FieldFile
from django.urls import reverse
from glassbox.video import shots as shot_maths
from glassbox.video import timeline, webvtt

from .models import MediaItem, Shot, Tag
from .presenters import is_box

MIN_RANGE_PERCENT = 0.6  # a range this narrow still shows (and takes a click)


def playable(item: MediaItem) -> tuple[FieldFile, str] | None:
    """The file a browser plays and its type: the proxy, or the original when it plays as it
    is (no proxy, ``proxy_mime`` set to the original's type); None until that is decided."""
    if item.proxy and item.proxy.name:
        return item.proxy, item.proxy_mime or "video/mp4"
    if item.proxy_mime and item.file and item.file.name:
        return item.file, item.proxy_mime
    return None


def span_of(entry) -> tuple[float, float] | None:
    """``(start, end)`` of a stored time range, or None when it is not a usable one."""
    if not isinstance(entry, dict):
        return None
    try:
        start, end = float(entry["start"]), float(entry["end"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
        return None
    return start, end


def _shot_index(entry: dict) -> int | None:
    try:
        return int(entry["shot"])
    except (KeyError, TypeError, ValueError):
        return None


def progress_view(item: MediaItem) -> dict | None:
    """``{"text": "keyframes 12 / 40", "done", "total"}`` while the video waits or is
    analysed; None once it is ready or failed."""
    if not item.is_pending:
        return None
    p = item.progress if isinstance(item.progress, dict) else {}
    try:
        stage, done, total = str(p["stage"]), int(p["done"]), int(p["total"])
    except (KeyError, TypeError, ValueError):
        text = "waiting for a worker" if item.status == MediaItem.Status.QUEUED else "starting"
        return {"text": text, "done": None, "total": None}
    return {"text": f"{stage} {done} / {total}", "done": done, "total": total}


# -- the WebVTT tracks ----------------------------------------------------------------------


def detected_shots(rows: Sequence[Shot]) -> list[tuple[shot_maths.Shot, str]]:
    """The detected shots (windows grouped by ``shot_number``), each with its caption (its
    first window's that has one)."""
    groups: dict[int, list[Shot]] = defaultdict(list)
    for row in rows:
        groups[row.shot_number].append(row)
    out = []
    for number in sorted(groups):
        windows = sorted(groups[number], key=lambda r: r.index)
        start = min(w.start_s for w in windows)
        end = max(w.end_s for w in windows)
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
            continue
        shot = shot_maths.Shot(
            index=number,
            start_frame=min(w.start_frame for w in windows),
            end_frame=max(w.end_frame for w in windows),
            start_s=start,
            end_s=end,
            cut_probability=windows[0].cut_probability,
        )
        caption = next((w.caption for w in windows if w.caption), "")
        out.append((shot, caption))
    return out


def chapters_track(item: MediaItem) -> str:
    shots = detected_shots(list(item.shots.order_by("index")))
    return webvtt.chapters_vtt([s for s, _ in shots], [c for _, c in shots])


def tag_insights(tags: Iterable[Tag]) -> list[timeline.Insight]:
    """The video's tags as ``timeline.Insight`` (their stored instances; bad ones skipped)."""
    out = []
    for tag in tags:
        instances = []
        for entry in tag.instances or []:
            span = span_of(entry)
            if span is None:
                continue
            try:
                confidence = float(entry.get("confidence", tag.score))
            except (TypeError, ValueError):
                confidence = float(tag.score)
            if not math.isfinite(confidence):
                continue
            shot = _shot_index(entry) or 0
            instances.append(timeline.Instance(span[0], span[1], confidence, shot, shot))
        if instances:
            out.append(
                timeline.Insight(
                    key=str(tag.concept_id),
                    name=tag.name,
                    instances=tuple(instances),
                    confidence=float(tag.score),
                    coverage=0.0,
                )
            )
    return out


def metadata_track(item: MediaItem) -> str:
    return webvtt.metadata_vtt(tag_insights(item.tags.all()))


# -- the page -------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _style(start: float, end: float, duration: float) -> str:
    left = min(max(start / duration * 100.0, 0.0), 100.0)
    width = max((end - start) / duration * 100.0, MIN_RANGE_PERCENT)
    left = min(left, 100.0 - MIN_RANGE_PERCENT)
    width = min(width, 100.0 - left)
    return f"left:{left:.3f}%;width:{width:.3f}%"


def _range(
    kind: str,
    start: float,
    end: float,
    duration: float,
    label: str,
    shot: int | None,
    preview: str | None,
    boxes: Sequence[Sequence[float]] = (),
) -> dict:
    return {
        "kind": kind,
        "start": _seconds(start),
        "end": _seconds(end),
        "style": _style(start, end, duration),
        "label": label,
        "shot": shot,
        "preview": preview,
        "boxes": json.dumps([[round(float(v), 4) for v in b] for b in boxes]) if boxes else "",
    }


def video_view(item: MediaItem, flags: Sequence = ()) -> dict:
    """Everything the video's page shows under (and in) the player. ``flags`` are the
    moderation flags to mark on the timeline (``moderation.models.Flag`` rows)."""
    rows = list(item.shots.order_by("index"))
    by_index = {r.index: r for r in rows}
    tags = list(item.tags.all())
    ends = [r.end_s for r in rows] + [
        s[1] for t in tags for s in (span_of(e) for e in t.instances or []) if s
    ]
    duration = max([float(item.duration_s or 0.0), *ends]) or 1.0

    def keyframe_url(index: int | None) -> str | None:
        row = by_index.get(index) if index is not None else None
        if row is None or not row.keyframe:
            return None
        return reverse("media:keyframe", args=[item.pk, row.index])

    shots = []
    for shot, caption in detected_shots(rows):
        first = min((r for r in rows if r.shot_number == shot.index), key=lambda r: r.index)
        span = timeline.format_span(shot.start_s, shot.end_s)
        label = f"Shot {shot.index + 1}, {span}"
        if caption:
            label += f": {caption}"
        if shot.cut_probability is not None:
            label += f" ({cut_title(shot.start_s, shot.cut_probability)})"
        shots.append(
            _range(
                "shot",
                shot.start_s,
                shot.end_s,
                duration,
                label,
                first.index,
                keyframe_url(first.index),
            )
        )
    cuts = [
        {
            "start": _seconds(r.start_s),
            "style": f"left:{min(max(r.start_s / duration * 100.0, 0.0), 100.0):.3f}%",
            "title": cut_title(r.start_s, r.cut_probability),
        }
        for r in rows
        if r.cut_probability is not None and math.isfinite(r.start_s) and r.start_s >= 0
    ]

    fps = float(item.fps or 25.0)
    cut_ranges = [
        _range(
            "cut",
            max(r.start_s - 0.5 / fps, 0.0),
            r.start_s + 0.5 / fps,
            duration,
            f"{cut_title(r.start_s, r.cut_probability)}: the frames it separates, over the "
            "shot detector's curve around it",
            r.index,
            reverse("media:cut", args=[item.pk, r.index]),
        )
        for r in rows
        if r.cut_probability is not None and math.isfinite(r.start_s) and r.start_s >= 0
    ]

    tag_rows = []
    for tag in tags:
        ranges = []
        for entry in tag.instances or []:
            span = span_of(entry)
            if span is None:
                continue
            index = _shot_index(entry)
            row = by_index.get(index) if index is not None else None
            if row is not None and str(tag.concept_id) in (row.cams or {}) and row.keyframe:
                preview = reverse(
                    "media:shot-tag-heatmap", args=[item.pk, row.index, tag.concept_id]
                )
            else:
                preview = keyframe_url(index)
            confidence = entry.get("confidence")
            label = f"{tag.name}, {timeline.format_span(*span)}"
            if isinstance(confidence, (int, float)) and math.isfinite(confidence):
                label += f", confidence {confidence:.2f}"
            ranges.append(_range("tag", span[0], span[1], duration, label, index, preview))
        tag_rows.append({"tag": tag, "ranges": ranges})

    return {
        "duration": _seconds(duration),
        "duration_label": shot_maths.format_time(duration, hundredths=False),
        "source": _source(item),
        "chapters_url": reverse("media:chapters", args=[item.pk]),
        "metadata_url": reverse("media:metadata", args=[item.pk]),
        "poster_url": reverse("media:thumbnail", args=[item.pk]) if item.thumbnail else None,
        "shots": shots,
        "cuts": cuts,
        "cut_ranges": cut_ranges,
        "tag_rows": tag_rows,
        "text_ranges": _grouped(item.text_lines, "text", duration, keyframe_url),
        "flag_ranges": flag_ranges(item, flags, duration),
        "progress": progress_view(item),
        "windows": [
            {
                "index": r.index,
                "span": timeline.format_span(r.start_s, r.end_s),
                "start": _seconds(r.start_s),
                "caption": r.caption,
                "keyframe_url": keyframe_url(r.index),
                "similar_url": f"{reverse('search:search')}?similar={item.pk}&shot={r.index}",
            }
            for r in rows
            if r.analyzed_at is not None
        ],
    }


def cut_title(start_s: float, probability: float) -> str:
    """ "cut at 0:04.13, p = 0.97"."""
    return f"cut at {shot_maths.format_time(start_s)}, p = {probability:.2f}"


def _source(item: MediaItem) -> dict | None:
    found = playable(item)
    if found is None:
        return None
    return {"url": reverse("media:proxy", args=[item.pk]), "mime": found[1]}


def flag_ranges(item: MediaItem, flags: Sequence, duration: float) -> list[dict]:
    """Moderation's flags with a time range, one range each: the policy, its rule and the
    flag's state in words; its keyframe (with the concept's heat map for a concept flag,
    else with the evidence's boxes) as the preview."""
    out = []
    for flag in sorted(flags, key=lambda f: (f.start_s or 0.0, -f.score, f.pk or 0)):
        span = span_of({"start": flag.start_s, "end": flag.end_s})
        if span is None:
            continue
        shot = flag.keyframe
        concept = next(
            (
                e.get("concept")
                for e in flag.evidence or []
                if isinstance(e, dict) and e.get("kind") == "concept"
            ),
            None,
        )
        preview, boxes = None, []
        if shot is not None and shot.keyframe:
            if isinstance(concept, int) and str(concept) in (shot.cams or {}):
                preview = reverse("media:shot-tag-heatmap", args=[item.pk, shot.index, concept])
            else:
                preview = reverse("media:keyframe", args=[item.pk, shot.index])
                boxes = [
                    e["box"]
                    for e in flag.evidence or []
                    if isinstance(e, dict) and _usable_box(e.get("box"))
                ]
        label = f"Flagged ({flag.state}): {flag.rule}, {timeline.format_span(*span)}"
        out.append(
            _range(
                "flag",
                span[0],
                span[1],
                duration,
                label,
                shot.index if shot is not None else None,
                preview,
                boxes,
            )
        )
    return out


def _grouped(entries, kind: str, duration: float, keyframe_url):
    """Read lines (``kind`` "text") of the windows, one range per window, with their boxes
    on its keyframe."""
    windows: dict[tuple, list[dict]] = defaultdict(list)
    for entry in entries or []:
        span = span_of(entry)
        if span is not None:
            windows[(span, _shot_index(entry))].append(entry)
    out = []
    for (span, index), found in sorted(windows.items(), key=lambda kv: kv[0][0]):
        when = timeline.format_span(*span)
        read = ", ".join(f"\u201c{e.get('text', '')}\u201d" for e in found)
        label = f"Read text {read}, {when}"
        boxes = [e["box"] for e in found if _usable_box(e.get("box"))]
        out.append(
            _range(kind, span[0], span[1], duration, label, index, keyframe_url(index), boxes)
        )
    return out


def _usable_box(box) -> bool:
    try:
        return is_box(box)
    except (TypeError, ValueError):
        return False
