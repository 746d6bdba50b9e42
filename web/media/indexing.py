"""The search index kept in step with the database: an item's Milvus row, and the rebuild.

The database is the source of truth for every field of a row, so the index can always be
rebuilt from it (``manage.py reindex``). Moderation's stored flags feed two fields
(``moderation.visibility.index_fields``): an item moderation shows to its owner only (hidden
until reviewed, removed, restricted) is written with ``is_public = false``, so public search
never returns it, and ``flagged`` says the row has a flag that no review cleared (a video's
window: a flagged time range overlapping it).
"""

from __future__ import annotations

import dataclasses

from glassbox.clients.milvus.schema import IndexRow, shot_row_id
from glassbox.retrieval import lexical
from glassbox_web import runtime
from moderation import visibility as moderation

from .models import MediaItem


def index_row(
    item: MediaItem, bank=None, moderated: moderation.IndexFields | None = None
) -> IndexRow:
    """The Milvus row of an analysed item (it must have a profile). Its tags are stored with
    every broader concept above them, so a tag filter on "dog" finds an item tagged
    "Eskimo dog"."""
    if bank is None:
        bank = runtime.concept_bank()
    if moderated is None:
        moderated = moderation.index_fields(item)
    tag_ids = [int(t.concept_id) for t in item.tags.all()]
    tags = list(tag_ids)
    for cid in tag_ids:
        if cid < len(bank):
            tags += bank.ancestors(cid)
    profile = item.profile
    appearance = profile.appearance_array()
    return IndexRow(
        id=item.pk,
        vector=profile.vector_array(),
        owner_id=item.owner_id,
        is_public=item.is_public and not moderated.owner_only,
        kind=item.kind,
        created=int(item.created.timestamp()),
        appearance=appearance if appearance.size else None,
        flagged=moderated.flagged,
        tags=tags,
        caption=lexical.index_text(item.caption or ""),
        ocr=lexical.index_text(
            "\n".join(str(line.get("text", "")) for line in item.text_lines or [])
        ),
    )


def index_rows(item: MediaItem, bank=None) -> list[IndexRow]:
    """The item's row and, for a video, one row per analysed shot window after it: the same
    privacy and filter fields, the window's own vectors and text."""
    moderated = moderation.index_fields(item)
    own = index_row(item, bank, moderated)
    if not item.is_video:
        return [own]
    rows = [own]
    for shot in item.shots.filter(analyzed_at__isnull=False).order_by("index"):
        appearance = shot.appearance_array()
        rows.append(
            dataclasses.replace(
                own,
                id=shot_row_id(item.pk, shot.index),
                item_id=item.pk,
                shot=shot.index,
                start_s=shot.start_s,
                end_s=shot.end_s,
                vector=shot.vector_array(),
                appearance=appearance if appearance.size else None,
                flagged=moderated.shot_flagged(shot.start_s, shot.end_s),
                caption=lexical.index_text(shot.caption or ""),
                ocr=lexical.index_text(
                    "\n".join(str(line.get("text", "")) for line in shot.text_lines or [])
                ),
            )
        )
    return rows


def reindex(index, batch_size: int = 500, progress=None) -> int:
    """Rebuild ``index`` from the database: drop it, create it, upsert every analysed item in
    batches, flush. The result depends only on the database, so running it twice gives the
    same index. ``progress(done, total)`` is called after each batch. Returns the count."""
    items = (
        MediaItem.objects.filter(profile__isnull=False)
        .select_related("profile")
        .prefetch_related("tags")
        .order_by("pk")
    )
    total = items.count()
    index.drop()
    index.ensure()
    done = 0
    for start in range(0, total, batch_size):
        chunk = list(items[start : start + batch_size])
        index.upsert([row for item in chunk for row in index_rows(item)])
        MediaItem.objects.filter(pk__in=[i.pk for i in chunk], needs_reindex=True).update(
            needs_reindex=False
        )
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    index.flush()
    return done
