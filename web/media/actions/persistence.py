"""An ``Analysis`` of the services (``glassbox.analysis``) written into rows.

The contract is the ``Analysis`` dataclass and the types of its fields: its tags become
``Tag`` rows in rank order, its semantic vector, CAMs, appearance and read-text terms the
item's ``SemanticProfile``, and its caption, read lines and detections the evidence fields of
the ``MediaItem``. Numbers are stored as plain floats and vectors as little-endian float32.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.utils import timezone
from glassbox.analysis.evidence import TagEvidence
from glassbox.analysis.pipeline import Analysis
from glassbox.evidence_types import Detection, TextLine

from ..models import MediaItem, SemanticProfile, Tag

EVIDENCE_FIELDS = [
    "caption",
    "caption_phrases",
    "text_lines",
    "nsfw",
    "detected_objects",
    "analyzed_at",
    "timings",
]


def store_analysis(item: MediaItem, analysis: Analysis, timings: Mapping[str, float]) -> None:
    """Replace the item's tags and profile with ``analysis`` and fill its evidence fields;
    ``timings`` (the worker's phases) join the pipeline's. Run inside the item's lock."""
    item.tags.all().delete()
    Tag.objects.bulk_create(tag_row(item, rank, tag) for rank, tag in enumerate(analysis.tags))
    SemanticProfile.objects.update_or_create(item=item, defaults=profile_fields(analysis))
    caption = analysis.caption.as_dict()
    item.caption, item.caption_phrases = str(caption["text"]), list(caption["phrases"])
    item.text_lines = [line_json(line) for line in analysis.text_lines]
    item.nsfw = [detection_json(found) for found in analysis.nsfw]
    item.detected_objects = list(analysis.objects)
    item.analyzed_at = timezone.now()
    item.timings = {**dict(analysis.timings), **dict(timings)}
    item.save(update_fields=[*EVIDENCE_FIELDS, "updated"])


def tag_row(item: MediaItem, rank: int, tag: TagEvidence) -> Tag:
    return Tag(
        item=item,
        rank=rank,
        concept_id=int(tag.concept_id),
        name=tag.name,
        wnid=tag.wnid,
        score=float(tag.score),
        box=list(tag.box) if tag.box is not None else None,
        cam=_as_lists(tag.cam),
        justification=tag.justification,
        contributing_concepts=list(tag.contributing_concepts),
        path=[str(name) for name in tag.path],
        faithfulness=tag.faithfulness,
        source=tag.source,
        detections=list(tag.detections),
    )


def profile_fields(analysis: Analysis) -> dict[str, Any]:
    """The ``SemanticProfile`` columns: the vector is ``sum(weights * concepts)`` plus
    ``text_weights * text_terms``, so each read-text term is stored with its weight."""
    semantic = analysis.semantic
    return {
        "vector": _float32_bytes(semantic.vector),
        "concept_ids": [int(c) for c in semantic.concept_ids],
        "weights": [float(w) for w in semantic.weights],
        "cams": {str(c): _as_lists(cam) for c, cam in analysis.cams.items()},
        "appearance": _float32_bytes(analysis.appearance),
        "text_terms": [
            {**term, "weight": float(w)}
            for term, w in zip(analysis.text_terms, semantic.text_weights, strict=True)
        ],
    }


def line_json(line: TextLine) -> dict[str, Any]:
    """A read line as stored: its text, box (fractions) and score."""
    return {"text": str(line.text), **_box_and_score(line.box, line.score)}


def detection_json(found: Detection) -> dict[str, Any]:
    """A sensitive-content detection as stored: its label, box (fractions) and score."""
    return {"label": str(found.label), **_box_and_score(found.box, found.score)}


def _box_and_score(box: Sequence[float], score: float) -> dict[str, Any]:
    return {"box": [round(float(v), 4) for v in box], "score": round(float(score), 4)}


def _float32_bytes(values: Any) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _as_lists(cam: Any) -> list[list[float]]:
    return [[float(v) for v in row] for row in cam]
