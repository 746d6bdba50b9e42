"""Synchronous, explained search: text queries over three channels, and "find similar".

A text query is matched through three channels, each searched in Milvus with the same filter
expression (privacy + the user's filters, see ``glassbox.clients.milvus.filters``):

- **semantic**: the query's MiniLM vector against the items' ConSE vectors. Its score splits
  exactly into per-concept contributions, and its heat map is the contribution-weighted sum of
  those concepts' CAMs;
- **caption** and **ocr**: BM25 over the stems of the grounded caption and of the read text;
  the explanation names the caption phrase or the read line, with their boxes.

The union of the channels' candidates is scored by calibrated relevance (``glassbox.retrieval.
relevance``: per-channel probabilities combined by noisy-OR), cut at ``DEFAULT_CUTOFF`` unless
the user asks for weaker matches, sorted (relevance or date), grouped (near-duplicates by
appearance) and paginated. Only the page shown is explained in full.

"Find similar" starts from an item (or an uploaded image) and searches the appearance and
semantic vectors; a match is explained by the concepts both items share and by the appearance
similarity.

This module orchestrates: it calls Triton (through the cache of ``embeddings``) and Milvus,
hydrates the hits into plain records (``records``), and leaves scoring and explanation to
``glassbox.retrieval.scoring`` and ``glassbox.retrieval.explanation``; the parameters are
checked in ``params``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from glassbox.clients.milvus.schema import item_of
from glassbox.clients.milvus.search import Hit
from glassbox.retrieval import explanation, relevance, scoring
from glassbox.retrieval.explanation import Contribution, Result
from glassbox.retrieval.records import Source
from glassbox_web import runtime
from media.models import MediaItem

from . import embeddings
from .params import SearchOptions, clean_query
from .records import hydrate, moment_records, with_details

Timings = dict[str, float] | None  # receives milliseconds per part, when given
MAX_CANDIDATES = 200  # per channel; results beyond the 200th of every channel are not shown
MIN_CANDIDATES = 48


@dataclass
class SearchPage:
    mode: str  # "text" or "similar"
    query: str  # the text, or a description of the source image
    results: list[Result]
    page: int
    limit: int
    sort: str
    weaker: bool  # whether matches under the cut-off are shown
    cutoff: float
    matched: int  # candidates at or above the cut-off (all of them when weaker)
    hidden: int  # candidates under the cut-off, not shown unless weaker
    has_next: bool
    unmatched_words: list[str] = field(default_factory=list)  # matched by no shown result
    source: MediaItem | None = None  # find similar: the item searched from
    timings: dict[str, float] = field(default_factory=dict)


def search(
    user, query: str, options: SearchOptions | None = None, *, timings: Timings = None
) -> SearchPage:
    """Items visible to ``user`` matching ``query`` and ``options.filters``, each explained.

    ``timings``, when given, receives milliseconds per part: encode, milvus, hydrate, explain.
    Raises ``params.SearchQueryError``, ``InferenceUnavailable`` or ``IndexUnavailable``.
    """
    query = clean_query(query)
    options = options or SearchOptions()
    bank = runtime.concept_bank()
    index_filters = options.filters.to_index(bank)  # an unknown tag fails before any work
    clock = _Clock(timings)

    words = explanation.query_words(query)
    vectors = embeddings.embed(runtime.inference_client(), [query, *(w.text for w in words)])
    vector, word_vectors = vectors[0], vectors[1:]
    clock.lap("encode")

    index = runtime.media_index()
    want = _candidates_wanted(options.page, options.limit)
    stems = " ".join(dict.fromkeys(w.stem for w in words))
    hits = index.search(vector, want, user.pk, index_filters)
    for channel in ("caption", "ocr"):
        hits += index.search_text(stems, channel, want, user.pk, index_filters)
    ids = item_ids(hits)
    clock.lap("milvus")

    records = hydrate(user, ids)
    clock.lap("hydrate")

    bg = relevance.background(vector, bank.embeddings[: bank.n_leaves])
    query_stems = {w.stem for w in words}
    candidates = [scoring.score_text(r, vector, bg, query_stems) for r in records]
    videos = [c for c in candidates if getattr(c.record.item, "is_video", False)]
    if videos:  # a video matches where one of its moments does
        moments = moment_records([c.record.item for c in videos])
        for c in videos:
            scored = [scoring.score_text(m, vector, bg, query_stems) for m in moments[c.record.id]]
            scoring.with_moments(c, scored)
    page = _ranked_page(
        "text",
        query,
        candidates,
        lambda c: explanation.explain_text(query, vector, words, word_vectors, c, bank),
        options,
        relevance.DEFAULT_CUTOFF,
        clock,
    )
    matched_anywhere = {w for r in page.results for w in r.matched_words}
    page.unmatched_words = [w.text for w in words if w.text not in matched_anywhere]
    return page


def similar(
    user, source: Source, options: SearchOptions | None = None, *, timings: Timings = None
) -> SearchPage:
    """Items visible to ``user`` that look like ``source`` or show the same concepts
    (``source`` from ``records.source_from_item`` or ``records.source_from_upload``)."""
    options = options or SearchOptions()
    bank = runtime.concept_bank()
    index_filters = options.filters.to_index(bank)
    clock = _Clock(timings)
    clock.lap("encode")  # the vectors are stored (or were just computed for an upload)

    index = runtime.media_index()
    want = _candidates_wanted(options.page, options.limit) + 1
    hits = []
    if source.appearance.size == index.appearance_dim:
        hits += index.search(source.appearance, want, user.pk, index_filters, "appearance")
    hits += index.search(source.semantic, want, user.pk, index_filters)
    ids = item_ids(hits)
    clock.lap("milvus")

    exclude = source.item.pk if source.item is not None else None
    records = [r for r in hydrate(user, ids) if r.id != exclude]
    clock.lap("hydrate")

    candidates = [scoring.score_similar(r, source) for r in records]
    videos = [c for c in candidates if getattr(c.record.item, "is_video", False)]
    if videos:  # similar shots: a video is as similar as its most similar window
        moments = moment_records([c.record.item for c in videos])
        for c in videos:
            scoring.with_moments(
                c, [scoring.score_similar(m, source) for m in moments[c.record.id]]
            )
    page = _ranked_page(
        "similar",
        source.description,
        candidates,
        lambda c: explanation.explain_similar(source, c, bank),
        options,
        relevance.SIMILAR_CUTOFF,
        clock,
    )
    page.source = source.item
    return page


def _ranked_page(
    mode: str,
    query: str,
    candidates: list[scoring.Candidate],
    explain: Callable[[scoring.Candidate], Result],
    options: SearchOptions,
    cutoff: float,
    clock: _Clock,
) -> SearchPage:
    """Cut, order, group and paginate ``candidates``; only the page shown is explained."""
    kept, hidden = scoring.cut(candidates, cutoff, options.weaker)
    groups = scoring.group_duplicates(scoring.order(kept, options.sort))
    page, limit = options.page, options.limit
    shown = groups[(page - 1) * limit : page * limit]
    for c, record in zip(shown, with_details([c.record for c in shown]), strict=True):
        c.record = record
    results = [explain(c) for c in shown]
    for c, r in zip(shown, results, strict=True):
        r.heatmap_url = heatmap_url(r.item.pk, r.heatmap_terms)
        r.moments = [explain(m) for m in c.moments]
        for m in r.moments:
            m.heatmap_url = moment_heatmap_url(r.item.pk, m.shot, m.heatmap_terms)
    clock.lap("explain")
    return SearchPage(
        mode=mode,
        query=query,
        results=results,
        page=page,
        limit=limit,
        sort=options.sort,
        weaker=options.weaker,
        cutoff=cutoff,
        matched=len(kept),
        hidden=hidden,
        has_next=len(groups) > page * limit,
        timings=dict(clock.sink or {}),
    )


def heatmap_url(item_id: int, contributions: Sequence[Contribution]) -> str:
    """The query-conditioned heat map: positive contributions as CAM weights."""
    path = reverse("media:heatmap", args=[item_id])
    terms = ",".join(f"{c.key}:{c.value:.4f}" for c in contributions) or "0:0"
    return f"{path}?{urlencode({'c': terms}, safe=':,')}"


def moment_heatmap_url(item_id: int, shot: int | None, contributions) -> str:
    """A moment's query heat map: its keyframe with the window's CAMs mixed by contribution."""
    path = reverse("media:shot-heatmap", args=[item_id, shot])
    terms = ",".join(f"{c.key}:{c.value:.4f}" for c in contributions) or "0:0"
    return f"{path}?{urlencode({'c': terms}, safe=':,')}"


def item_ids(hits: Sequence[Hit]) -> list[int]:
    """The items the hits belong to, best first: a video's shot row stands for its video."""
    return list(dict.fromkeys(item_of(h.id)[0] for h in hits))


def _candidates_wanted(page: int, limit: int) -> int:
    return min(MAX_CANDIDATES, max(MIN_CANDIDATES, 3 * page * limit))


class _Clock:
    """Records the milliseconds between laps into ``sink`` (a no-op without one)."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[name] = (now - self.last) * 1000
        self.last = now
