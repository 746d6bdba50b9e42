"""Rows into the plain records search works on (``glassbox.retrieval.records``), in one place.

``hydrate`` re-reads the index's hits through ``visible_to``: the index may return items the
viewer can no longer see (a change not yet synced), and those are dropped here. The record's
``item`` is the row, carried to the result for the page and the API.

Hydration reads only what scoring needs (the vectors, the concepts, the caption and the read
lines): the stored CAMs and the read lines' embeddings are large JSON that only the page shown
uses, so ``with_details`` fills in the text terms and caption phrases of the candidates on the
page, in one query, before they are explained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from glassbox.retrieval.records import CaptionPhrase, ItemRecord, Source, TextLine, TextTerm
from glassbox_web import runtime
from media.models import MediaItem, SemanticProfile, Shot

from .params import SourceNotFound


def hydrate(user, ids: Sequence[int]) -> list[ItemRecord]:
    """The analysed items among ``ids`` that ``user`` may see, as records (each id once)."""
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        return []
    items = (
        MediaItem.objects.visible_to(user)
        .filter(pk__in=unique, status=MediaItem.Status.READY)
        .select_related("profile", "owner")
        .defer(*_DETAIL_FIELDS)
    )
    return [record_of(item) for item in items if hasattr(item, "profile")]


_DETAIL_FIELDS = ("profile__cams", "profile__text_terms")  # read for the page only


def record_of(item: MediaItem) -> ItemRecord:
    """An analysed item (with its ``profile``) as scoring sees it: no text terms nor caption
    phrases unless given (``with_details`` adds them for the page shown)."""
    profile = item.profile
    return ItemRecord(
        id=item.pk,
        created=item.created,
        semantic=profile.vector_array(),
        appearance=profile.appearance_array(),
        concept_ids=profile.concept_ids,
        weights=profile.weights,
        caption=item.caption or "",
        text_lines=[
            TextLine(text=str(line.get("text", "")), box=list(line.get("box") or []))
            for line in item.text_lines or []
        ],
        item=item,
    )


def with_details(records: Sequence[ItemRecord]) -> list[ItemRecord]:
    """``records`` with their text terms (read in one query) and caption phrases, as the
    explanation of a shown result reads them."""
    ids = [r.id for r in records]
    stored = dict(
        SemanticProfile.objects.filter(item_id__in=ids).values_list("item_id", "text_terms")
    )
    return [
        dataclasses.replace(
            r,
            text_terms=[_term(t) for t in stored.get(r.id) or []],
            caption_phrases=_phrases(r.caption, getattr(r.item, "caption_phrases", None)),
        )
        for r in records
    ]


def moment_records(videos: Sequence[MediaItem]) -> dict[int, list[ItemRecord]]:
    """The analysed windows of ``videos`` (already visible to the viewer) as records, by
    video: a moment is scored and explained like an item, and carries its time range."""
    by_id = {v.pk: v for v in videos}
    out: dict[int, list[ItemRecord]] = {pk: [] for pk in by_id}
    rows = Shot.objects.filter(item_id__in=list(by_id), analyzed_at__isnull=False).order_by(
        "item_id", "index"
    )
    for shot in rows:
        caption = shot.caption or ""
        out[shot.item_id].append(
            ItemRecord(
                id=shot.item_id,
                created=by_id[shot.item_id].created,
                semantic=shot.vector_array(),
                appearance=shot.appearance_array(),
                concept_ids=shot.concept_ids,
                weights=shot.weights,
                text_terms=[_term(t) for t in shot.text_terms or []],
                caption=caption,
                caption_phrases=_phrases(caption, shot.caption_phrases),
                text_lines=[
                    TextLine(text=str(line.get("text", "")), box=list(line.get("box") or []))
                    for line in shot.text_lines or []
                ],
                item=by_id[shot.item_id],
                shot=shot.index,
                start_s=shot.start_s,
                end_s=shot.end_s,
            )
        )
    return out


def _term(t: dict) -> TextTerm:
    return TextTerm(
        text=t["text"],
        weight=t["weight"],
        embedding=t["embedding"],
        box=t["box"],
        kind=t.get("kind") or "",
    )


def _phrases(caption: str, phrases) -> list[CaptionPhrase]:
    return [
        CaptionPhrase(
            text=caption[int(p.get("start", 0)) : int(p.get("end", 0))],
            boxes=[list(b) for b in p.get("boxes") or []],
        )
        for p in phrases or []
    ]


def source_from_item(user, item_id: int) -> Source:
    """ "Find similar" from an analysed item ``user`` may see (else ``SourceNotFound``)."""
    item = (
        MediaItem.objects.visible_to(user)
        .filter(pk=item_id, status=MediaItem.Status.READY)
        .select_related("profile")
        .first()
    )
    if item is None or not hasattr(item, "profile"):
        raise SourceNotFound("no analysed item with this id is visible to you", field="item")
    profile = item.profile
    return Source(
        description=item.title or f"item {item.pk}",
        semantic=profile.vector_array().astype(np.float32),
        appearance=profile.appearance_array(),
        concept_ids=[int(c) for c in profile.concept_ids],
        weights=[float(w) for w in profile.weights],
        item=item,
    )


def source_from_shot(user, item_id: int, shot: int) -> Source:
    """ "Find similar" from one window of a video ``user`` may see (else ``SourceNotFound``):
    its keyframe's vectors and concepts."""
    item = (
        MediaItem.objects.visible_to(user)
        .filter(pk=item_id, status=MediaItem.Status.READY, kind=MediaItem.Kind.VIDEO)
        .first()
    )
    row = (
        Shot.objects.filter(item=item, index=shot, analyzed_at__isnull=False).first()
        if item is not None
        else None
    )
    if row is None:
        raise SourceNotFound(
            "no analysed shot with this number in a video visible to you", field="shot"
        )
    return Source(
        description=f"{item.title or f'item {item.pk}'}, {row.start_s:.1f}–{row.end_s:.1f} s",
        semantic=row.vector_array().astype(np.float32),
        appearance=row.appearance_array(),
        concept_ids=[int(c) for c in row.concept_ids],
        weights=[float(w) for w in row.weights],
        item=item,
    )


def source_from_upload(data: bytes, name: str = "") -> Source:
    """Analyse an uploaded image for a query (concepts and appearance only: no OCR, no NSFW, no
    faithfulness). Raises ``imaging.InvalidMedia`` with the same checks as uploads."""
    from glassbox.analysis.pipeline import analyze
    from glassbox.config import get_settings

    cfg = dataclasses.replace(
        get_settings(), ocr=False, nsfw=False, objects=False, faithfulness="off"
    )
    # a query image is not moderated (no policies): it is never stored
    analysis = analyze(data, runtime.inference_client(), runtime.concept_bank(), cfg, policies=())
    appearance = np.asarray(analysis.appearance, dtype=np.float32)
    norm = float(np.linalg.norm(appearance))
    return Source(
        description=name or "the uploaded image",
        semantic=np.asarray(analysis.semantic.vector, dtype=np.float32),
        appearance=appearance / norm if norm > 0 else appearance,
        concept_ids=[int(c) for c in analysis.semantic.concept_ids],
        weights=[float(w) for w in analysis.semantic.weights],
    )
