"""What the item page shows, built from stored rows: the caption cut into clickable phrases,
read text and detections with their regions, and the CSS of a region outline.

Everything here is plain data for the templates, which escape every piece; no markup ever
comes from the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .models import MediaItem, Tag

CAPTION_KINDS = ("concept", "text", "count", "position", "colour")
EVIDENCE_KINDS = {
    "classifier": "heat map",
    "detector": "detected box",
    "both": "heat map and detected box",
}


def caption_view(text: str, phrases: list[dict] | None) -> dict | None:
    """The caption cut into segments for the template: plain text, or a phrase with its
    region boxes. Built from the stored offsets, so the template escapes every piece and no
    markup ever comes from the data. A phrase with bad offsets, overlapping another, or
    without a usable box is shown as plain text: nothing clickable without evidence."""
    if not text:
        return None
    segments: list[dict] = []
    regions: list[dict] = []
    cursor = 0
    for phrase in phrases or []:
        try:
            start, end, kind = int(phrase["start"]), int(phrase["end"]), str(phrase["kind"])
            boxes = [box_style(box) for box in phrase.get("boxes") or [] if is_box(box)]
        except (KeyError, TypeError, ValueError):
            continue
        if not (cursor <= start < end <= len(text)) or kind not in CAPTION_KINDS or not boxes:
            continue
        if start > cursor:
            segments.append({"text": text[cursor:start], "phrase": None})
        index = sum(1 for s in segments if s["phrase"] is not None)
        ids = [f"caption-region-{index}-{k}" for k in range(len(boxes))]
        segments.append(
            {"text": text[start:end], "phrase": index, "kind": kind, "controls": " ".join(ids)}
        )
        regions += [
            {"id": rid, "phrase": index, "kind": kind, "style": style}
            for rid, style in zip(ids, boxes, strict=True)
        ]
        cursor = end
    if cursor < len(text):
        segments.append({"text": text[cursor:], "phrase": None})
    return {"segments": segments, "regions": regions}


def tag_overlays(tags: Iterable[Tag]) -> list[dict]:
    """Each tag with the CSS of its region outline (``None`` without a region)."""
    return [
        {
            "tag": tag,
            "box": box_style(tag.box),
            "evidence": EVIDENCE_KINDS.get(tag.source, "heat map"),
            # the detector's boxes (best first), drawn with the tag's region
            "detections": [
                s
                for s in (
                    box_style(d.get("box")) for d in tag.detections or [] if isinstance(d, dict)
                )
                if s
            ],
        }
        for tag in tags
    ]


def evidence_view(item: MediaItem) -> dict:
    """Read text and sensitive-content detections as lists of (label, score, region), each
    a button that shows its box on the image like a caption phrase (ids ``line-<i>`` and
    ``nsfw-<i>``). Entries without a usable box are listed without a button."""

    def entries(rows, prefix: str, name_field: str) -> list[dict]:
        out = []
        for i, row in enumerate(rows or []):
            box = row.get("box") if isinstance(row, dict) else None
            usable = is_box(box) if box is not None else False
            out.append(
                {
                    "label": str(row.get(name_field, "")) if isinstance(row, dict) else "",
                    "score": row.get("score") if isinstance(row, dict) else None,
                    "phrase": f"{prefix}-{i}" if usable else None,
                    "style": box_style(box) if usable else None,
                }
            )
        return out

    objects = []
    for i, row in enumerate(item.detected_objects or []):
        if not isinstance(row, dict):
            continue
        boxes = [b for b in row.get("boxes") or [] if is_box(b)]
        colour = row.get("colour") if isinstance(row.get("colour"), dict) else {}
        swatch = colour.get("swatch")
        ok = isinstance(swatch, list) and len(swatch) == 3
        objects.append(
            {
                "label": str(row.get("name", "")),
                "count": int(row.get("count") or len(boxes) or 1),
                "score": row.get("score"),
                "justification": str(row.get("justification", "")),
                "colour": str(colour.get("text") or "") if colour.get("name") else "",
                "swatch": (
                    f"background:rgb({','.join(str(int(max(0, min(255, v)))) for v in swatch)})"
                    if ok and colour.get("name")
                    else None
                ),
                "phrase": f"object-{i}" if boxes else None,
                "styles": [box_style(b) for b in boxes],
            }
        )
    return {
        "lines": entries(item.text_lines, "line", "text"),
        "nsfw": entries(item.nsfw, "nsfw", "label"),
        "objects": objects,
    }


def is_box(box) -> bool:
    """Four finite fractions with ``x0 < x1`` and ``y0 < y1`` (after clamping to [0, 1])."""
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return False
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return False
    return min(x1, 1.0) > max(x0, 0.0) and min(y1, 1.0) > max(y0, 0.0)


def box_style(box: list[float] | None) -> str | None:
    """CSS for the region outline, from (x0, y0, x1, y1) fractions; numbers only."""
    if not box or len(box) != 4:
        return None
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return (
        f"left:{x0 * 100:.2f}%;top:{y0 * 100:.2f}%;"
        f"width:{max(x1 - x0, 0) * 100:.2f}%;height:{max(y1 - y0, 0) * 100:.2f}%"
    )


# -- moderation: a flag's evidence (the review queue and the owner's banner) ---------------

FLAG_EVIDENCE_KINDS = {
    "nudity": "sensitive-content detector",
    "concept": "concept",
    "object": "detected object",
    "text": "read text",
}


def flag_concept_map(flag) -> tuple[int, list] | None:
    """``(concept id, stored 7x7 CAM)`` of the flag's strongest concept evidence: from the
    window's keyframe for a video flag, else from the item's profile; None without one."""
    concept = next(
        (
            e["concept"]
            for e in flag.evidence or []
            if isinstance(e, dict) and e.get("kind") == "concept" and _is_id(e.get("concept"))
        ),
        None,
    )
    if concept is None:
        return None
    if flag.keyframe_id is not None:
        cams = flag.keyframe.cams if flag.keyframe is not None else None
    else:
        profile = getattr(flag.item, "profile", None)  # None until the item is analysed
        cams = profile.cams if profile is not None else None
    grid = cams.get(str(int(concept))) if isinstance(cams, dict) else None
    return (int(concept), grid) if grid is not None else None


def flag_view(flag, policy=None) -> dict:
    """A flag as the templates show it: the policy's name and description, the rule, what
    raised it (each piece of evidence in words, the boxes as CSS), the heat map of its
    concept, the counterfactual, and a video flag's time range. ``policy`` is the
    ``glassbox.moderation.policies.Policy`` named by ``flag.policy`` (None when it is gone)."""
    from django.urls import reverse
    from glassbox.video import timeline

    boxes, listed = [], []
    for e in flag.evidence or []:
        if not isinstance(e, dict):
            continue
        kind = str(e.get("kind", ""))
        box = e.get("box")
        try:
            usable = box is not None and is_box(box)
        except (TypeError, ValueError):
            usable = False
        if usable:
            boxes.append({"style": box_style(box), "kind": kind})
        score = e.get("score")
        listed.append(
            {
                "kind": FLAG_EVIDENCE_KINDS.get(kind, kind),
                "label": str(e.get("label") or ""),
                "text": str(e.get("text") or ""),
                "score": float(score) if _is_number(score) else None,
                "boxed": usable,
            }
        )
    counterfactual = flag.counterfactual if isinstance(flag.counterfactual, dict) else None
    span = start = None
    if flag.start_s is not None and flag.end_s is not None:
        a, b = float(flag.start_s), float(flag.end_s)
        if math.isfinite(a) and math.isfinite(b) and 0 <= a <= b:
            span, start = timeline.format_span(a, b), f"{a:.3f}"
    has_map = flag_concept_map(flag) is not None
    return {
        "flag": flag,
        "name": policy.name if policy is not None else flag.policy,
        "description": policy.description if policy is not None else "",
        "action": flag.action,
        "rule": flag.rule,
        "evidence": listed,
        "boxes": boxes,
        "image_url": reverse("moderation:flag-image", args=[flag.pk]),
        "heatmap_url": reverse("moderation:flag-heatmap", args=[flag.pk]) if has_map else None,
        "has_overlay": bool(boxes) or has_map,
        "counterfactual": str(counterfactual.get("text") or "") if counterfactual else "",
        "span": span,
        "start": start,
        "appeal": getattr(flag, "appeal", None),
    }


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
