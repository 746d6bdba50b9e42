"""Synchronous, explained search: encode the query, ask the index, re-check, explain.

A result's score splits exactly into per-concept contributions (ConSE), and its heat map is
the contribution-weighted sum of those concepts' CAMs. The index may return items the viewer
can no longer see (a visibility change not yet synced); hydration through ``visible_to``
drops them.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlencode

import numpy as np
from django.urls import reverse
from glassbox import conse, explain
from glassbox_web import runtime
from media.models import MediaItem

MAX_QUERY_CHARS = 500
MAX_LIMIT = 50
DEFAULT_LIMIT = 12
OVERFETCH = 3  # ask the index for more than needed; some hits may be hidden or stale
HEATMAP_TERMS = 8  # most concepts mixed into a query heat map
# punctuation, separators, controls and math/currency/modifier symbols; emoji (So) are words
_NOT_WORDS = ("P", "Z", "C", "Sm", "Sc", "Sk")


class SearchQueryError(ValueError):
    """The query cannot be searched; the message names the problem (answered as 400)."""

    def __init__(self, detail: str, field: str = "q") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class Contribution:
    concept_id: int | None  # None for a line of text read in the image
    concept: str  # the concept's name, or the read text in quotes
    value: float
    text_index: int | None = None  # which read line (SemanticProfile.text_terms)
    box: list[float] | None = None  # where that line is, as fractions

    @property
    def key(self) -> str:
        """Its name in a heat-map request: the concept id, or ``t<index>`` for read text."""
        return f"t{self.text_index}" if self.text_index is not None else str(self.concept_id)


@dataclass(frozen=True)
class Result:
    item: MediaItem
    score: float
    contributions: list[Contribution]
    heatmap_url: str
    justification: str

    @property
    def contributions_text(self) -> str:
        return explain.format_contributions([(c.concept, c.value) for c in self.contributions])


def clean_query(raw: str | None) -> str:
    query = (raw or "").strip()
    if not query:
        raise SearchQueryError("q must not be empty")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchQueryError(f"q must be at most {MAX_QUERY_CHARS} characters, got {len(query)}")
    if all(unicodedata.category(ch).startswith(_NOT_WORDS) for ch in query):
        raise SearchQueryError("q must contain words, not only punctuation")
    return query


def clean_limit(raw: int | str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError) as exc:
        raise SearchQueryError("limit must be an integer", field="limit") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise SearchQueryError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def search(
    user, query: str, limit: int = DEFAULT_LIMIT, timings: dict[str, float] | None = None
) -> list[Result]:
    """Items visible to ``user`` that best match ``query``, each with its explanation.

    ``timings``, when given, receives milliseconds per part: encode, milvus, hydrate, explain.
    Raises :class:`SearchQueryError`, ``InferenceUnavailable`` or ``IndexUnavailable``.
    """
    query = clean_query(query)
    limit = clean_limit(limit)
    clock = _Clock(timings)
    vector = np.asarray(runtime.inference_client().embed_texts([query])[0], dtype=np.float32)
    clock.lap("encode")
    hits = runtime.media_index().search(vector, limit * OVERFETCH, viewer_id=user.pk)
    clock.lap("milvus")
    if not hits:
        return []
    items = (
        MediaItem.objects.visible_to(user)
        .filter(pk__in=[hit.id for hit in hits], status=MediaItem.Status.READY)
        .select_related("profile", "owner")
    )
    by_id = {item.pk: item for item in items if hasattr(item, "profile")}
    clock.lap("hydrate")
    bank = runtime.concept_bank()
    shown = [hit for hit in hits if hit.id in by_id][:limit]
    results = [_explain(query, vector, by_id[hit.id], hit.score, bank) for hit in shown]
    clock.lap("explain")
    return results


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


def _explain(query: str, vector: np.ndarray, item: MediaItem, score: float, bank) -> Result:
    profile = item.profile
    pairs = conse.decompose(vector, profile.concept_ids, profile.weights, bank.embeddings)
    contributions = [
        Contribution(concept_id=cid, concept=str(bank.names[cid]), value=value)
        for cid, value in pairs
    ]
    terms = profile.text_terms or []
    if terms:
        values = conse.text_contributions(
            vector,
            np.array([t["embedding"] for t in terms], dtype=np.float64),
            np.array([t["weight"] for t in terms], dtype=np.float64),
        )
        contributions += [
            Contribution(None, _text_label(t), v, text_index=j, box=list(t["box"]))
            for j, (t, v) in enumerate(zip(terms, values, strict=True))
        ]
        contributions.sort(key=lambda c: c.value, reverse=True)
    positive = [c for c in contributions if c.value > 0][:HEATMAP_TERMS]
    return Result(
        item=item,
        score=float(score),
        contributions=contributions,  # all of them: they sum exactly to the score
        heatmap_url=heatmap_url(item.pk, positive),
        justification=explain.search_justification(
            query, [(c.concept, c.value) for c in contributions], float(score)
        ),
    )


def _text_label(term: dict) -> str:
    """How a text term reads in an explanation: the read line, or the caption, quoted."""
    prefix = "the caption " if term.get("kind") == "caption" else ""
    return f"{prefix}“{term['text']}”"


def heatmap_url(item_id: int, contributions: list[Contribution]) -> str:
    """The query-conditioned heat map: positive contributions as CAM weights."""
    path = reverse("media:heatmap", args=[item_id])
    terms = ",".join(f"{c.key}:{c.value:.4f}" for c in contributions) or "0:0"
    return f"{path}?{urlencode({'c': terms}, safe=':,')}"
