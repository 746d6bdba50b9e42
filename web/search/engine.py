"""Synchronous, explained search: text queries over three channels, and "find similar".

A text query is matched through three channels, each searched in Milvus with the same filter
expression (privacy + the user's filters, see ``glassbox.index.Filters``):

- **semantic**: the query's MiniLM vector against the items' ConSE vectors. Its score splits
  exactly into per-concept contributions, and its heat map is the contribution-weighted sum of
  those concepts' CAMs;
- **caption** and **ocr**: BM25 over the stems of the grounded caption and of the read text;
  the explanation names the caption phrase or the read line, with their boxes.

The union of the channels' candidates is scored by calibrated relevance (``glassbox.relevance``:
per-channel probabilities combined by noisy-OR), cut at ``DEFAULT_CUTOFF`` unless the user asks
for weaker matches, sorted (relevance or date), grouped (near-duplicates by appearance) and
paginated. Only the page shown is explained in full.

"Find similar" starts from an item (or an uploaded image) and searches the appearance and
semantic vectors; a match is explained by the concepts both items share and by the appearance
similarity. The index may return items the viewer can no longer see (a change not yet synced);
hydration through ``visible_to`` drops them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import numpy as np
from django.urls import reverse
from django.utils import timezone
from glassbox import conse, explain, lexical, relevance
from glassbox.index import Filters
from glassbox_web import runtime
from media.models import MediaItem

MAX_QUERY_CHARS = 500
MAX_LIMIT = 50
DEFAULT_LIMIT = 12
MAX_PAGE = 20
MAX_CANDIDATES = 200  # per channel; results beyond the 200th of every channel are not shown
MIN_CANDIDATES = 48
MAX_QUERY_WORDS = 12  # content words embedded for the word-by-word explanation
HEATMAP_TERMS = 8  # most concepts mixed into a query heat map
WORD_CONCEPT_MIN = 0.5  # cosine at which a query word is said to match a concept's name
SORTS = ("relevance", "date")
KINDS = ("image", "video")  # filter values; only images are ingested so far
OWNERS = ("any", "mine", "public")
# punctuation, separators, controls and math/currency/modifier symbols; emoji (So) are words
_NOT_WORDS = ("P", "Z", "C", "Sm", "Sc", "Sk")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SearchQueryError(ValueError):
    """The query cannot be searched; the message names the problem (answered as 400)."""

    status = 400

    def __init__(self, detail: str, field: str = "q") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class SourceNotFound(SearchQueryError):
    """ "Find similar" from an item the user cannot see, or that is not analysed (404)."""

    status = 404


# --- parameters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """The user's filters, as typed (validated); ``to_index`` turns them into Milvus terms."""

    kind: str | None = None
    owner: str = "any"
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive: the whole day counts
    tag: str | None = None
    flagged: bool | None = None

    @property
    def active(self) -> bool:
        return self != SearchFilters()

    def to_index(self, bank) -> Filters:
        tags: tuple[int, ...] = ()
        if self.tag is not None:
            found = bank.find(self.tag)
            if not found:
                raise SearchQueryError(
                    f"tag {self.tag[:60]!r} is not a concept Glassbox knows; use a tag name"
                    " shown on an item, such as 'dog' or 'vehicle'",
                    field="tag",
                )
            tags = tuple(found)
        return Filters(
            kind=self.kind,
            owner=self.owner,
            created_from=_day_start(self.date_from) if self.date_from else None,
            created_to=_day_start(self.date_to + dt.timedelta(days=1)) if self.date_to else None,
            tags=tags,
            flagged=self.flagged,
        )

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters (for links to other pages of the same search)."""
        params = {
            "kind": self.kind or "",
            "owner": "" if self.owner == "any" else self.owner,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "tag": self.tag or "",
            "flagged": "" if self.flagged is None else ("true" if self.flagged else "false"),
        }
        return {k: v for k, v in params.items() if v}


def parse_filters(params: Mapping[str, str]) -> SearchFilters:
    """Validate filter parameters; each error names its field (answered as 400)."""

    def text(name: str) -> str | None:
        raw = params.get(name)
        value = " ".join(str(raw).split()) if raw is not None else ""
        return value or None

    kind = text("kind")
    if kind is not None and kind not in KINDS:
        raise SearchQueryError(f"kind must be one of {', '.join(KINDS)}", field="kind")
    owner = text("owner") or "any"
    if owner not in OWNERS:
        raise SearchQueryError(f"owner must be one of {', '.join(OWNERS)}", field="owner")
    date_from, date_to = _date(text("from"), "from"), _date(text("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise SearchQueryError("from must not be after to", field="from")
    tag = text("tag")
    if tag is not None and len(tag) > 100:
        raise SearchQueryError("tag must be at most 100 characters", field="tag")
    flagged_raw = (text("flagged") or "").lower()
    if flagged_raw in _TRUE:
        flagged: bool | None = True
    elif flagged_raw in _FALSE:
        flagged = False
    elif flagged_raw in {"", "any"}:
        flagged = None
    else:
        raise SearchQueryError("flagged must be true, false or any", field="flagged")
    return SearchFilters(kind, owner, date_from, date_to, tag, flagged)


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
    return _bounded(raw, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def clean_page(raw: int | str | None) -> int:
    return _bounded(raw, "page", 1, 1, MAX_PAGE)


def clean_sort(raw: str | None) -> str:
    sort = (raw or "relevance").strip().lower()
    if sort not in SORTS:
        raise SearchQueryError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    return sort


def clean_flag(raw: str | bool | None, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE | {""}:
        return False
    raise SearchQueryError(f"{name} must be true or false", field=name)


# --- results --------------------------------------------------------------------------------


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
class Channel:
    """What one channel contributed to a result."""

    name: str  # semantic, caption, ocr (text queries); appearance, concepts (find similar)
    probability: float  # its calibrated share of the relevance (text) or its cosine (similar)
    score: float  # raw: cosine, or the share of query words found
    summary: str  # one line, plain text
    words: list[str] = field(default_factory=list)  # query words this channel matched
    text: str = ""  # the caption phrase or read line that matched
    boxes: list[list[float]] = field(default_factory=list)  # where, as fractions


@dataclass
class Result:
    item: MediaItem
    relevance: float  # calibrated probability (text) or similarity (find similar), 0..1
    score: float  # the semantic cosine
    channels: list[Channel] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    heatmap_url: str = ""
    justification: str = ""
    matched_words: dict[str, list[str]] = field(default_factory=dict)  # word -> channels
    unmatched_words: list[str] = field(default_factory=list)
    duplicates: list[MediaItem] = field(default_factory=list)  # near-duplicates grouped here
    shared_concepts: list[tuple[str, float]] = field(default_factory=list)  # find similar
    appearance: float | None = None  # appearance cosine with the source (find similar)

    @property
    def contributions_text(self) -> str:
        return explain.format_contributions([(c.concept, c.value) for c in self.contributions])

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]


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


# --- text search ------------------------------------------------------------------------------


@dataclass
class _Candidate:
    item: MediaItem
    semantic: float = 0.0
    z: float = 0.0
    p_semantic: float = 0.0
    caption_words: set[str] = field(default_factory=set)  # query stems in the caption
    ocr_words: set[str] = field(default_factory=set)  # query stems in the read text
    p_caption: float = 0.0
    p_ocr: float = 0.0
    relevance: float = 0.0
    appearance: np.ndarray | None = None
    duplicates: list[MediaItem] = field(default_factory=list)


def search(
    user,
    query: str,
    *,
    filters: SearchFilters | None = None,
    page: int = 1,
    limit: int = DEFAULT_LIMIT,
    sort: str = "relevance",
    weaker: bool = False,
    timings: dict[str, float] | None = None,
) -> SearchPage:
    """Items visible to ``user`` matching ``query`` and ``filters``, each explained.

    ``timings``, when given, receives milliseconds per part: encode, milvus, hydrate, explain.
    Raises :class:`SearchQueryError`, ``InferenceUnavailable`` or ``IndexUnavailable``.
    """
    query = clean_query(query)
    limit, page, sort = clean_limit(limit), clean_page(page), clean_sort(sort)
    filters = filters or SearchFilters()
    bank = runtime.concept_bank()
    index_filters = filters.to_index(bank)  # an unknown tag fails before any work
    clock = _Clock(timings)

    words = _query_words(query)
    vectors = np.asarray(
        runtime.inference_client().embed_texts([query, *(w.text for w in words)]), np.float32
    )
    vector, word_vectors = vectors[0], vectors[1:]
    clock.lap("encode")

    index = runtime.media_index()
    want = _candidates_wanted(page, limit)
    stems = " ".join(dict.fromkeys(w.stem for w in words))
    ids = [h.id for h in index.search(vector, want, user.pk, index_filters)]
    for channel in ("caption", "ocr"):
        ids += [h.id for h in index.search_text(stems, channel, want, user.pk, index_filters)]
    clock.lap("milvus")

    items = _hydrate(user, ids)
    clock.lap("hydrate")

    bg = relevance.background(vector, bank.embeddings[: bank.n_leaves])
    query_stems = {w.stem for w in words}
    candidates = [_score(item, vector, bg, query_stems) for item in items]
    kept, hidden = _cut(candidates, relevance.DEFAULT_CUTOFF, weaker)
    ordered = _order(kept, sort)
    groups = _group_duplicates(ordered)
    shown = groups[(page - 1) * limit : page * limit]
    results = [_explain_text(query, vector, words, word_vectors, c, bank) for c in shown]
    clock.lap("explain")

    matched_anywhere = {w for r in results for w in r.matched_words}
    return SearchPage(
        mode="text",
        query=query,
        results=results,
        page=page,
        limit=limit,
        sort=sort,
        weaker=weaker,
        cutoff=relevance.DEFAULT_CUTOFF,
        matched=len(kept),
        hidden=hidden,
        has_next=len(groups) > page * limit,
        unmatched_words=[w.text for w in words if w.text not in matched_anywhere]
        if results
        else [w.text for w in words],
        timings=dict(timings or {}),
    )


def _query_words(query: str) -> list[lexical.Word]:
    unique: dict[str, lexical.Word] = {}
    for word in lexical.words(query):
        unique.setdefault(word.stem, word)
    return list(unique.values())[:MAX_QUERY_WORDS]


def _candidates_wanted(page: int, limit: int) -> int:
    return min(MAX_CANDIDATES, max(MIN_CANDIDATES, 3 * page * limit))


def _hydrate(user, ids: Sequence[int]) -> list[MediaItem]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        return []
    items = (
        MediaItem.objects.visible_to(user)
        .filter(pk__in=unique, status=MediaItem.Status.READY)
        .select_related("profile", "owner")
    )
    return [item for item in items if hasattr(item, "profile")]


def _score(
    item: MediaItem, vector: np.ndarray, bg: relevance.Background, query_stems
) -> _Candidate:
    profile = item.profile
    c = _Candidate(item=item)
    c.semantic = float(np.dot(profile.vector_array().astype(np.float64), vector))
    c.z = bg.z(c.semantic)
    c.p_semantic = relevance.semantic_probability(c.z)
    if query_stems:
        c.caption_words = query_stems & lexical.stems(item.caption or "")
        c.ocr_words = query_stems & lexical.stems(_ocr_text(item))
        c.p_caption = relevance.lexical_probability(
            len(c.caption_words) / len(query_stems), relevance.CAPTION_PRIOR
        )
        c.p_ocr = relevance.lexical_probability(
            len(c.ocr_words) / len(query_stems), relevance.OCR_PRIOR
        )
    c.relevance = relevance.combine([c.p_semantic, c.p_caption, c.p_ocr])
    return c


def _cut(candidates, cutoff: float, weaker: bool):
    above = [c for c in candidates if c.relevance >= cutoff]
    if weaker:
        return candidates, 0
    return above, len(candidates) - len(above)


def _order(candidates, sort: str):
    if sort == "date":
        return sorted(candidates, key=lambda c: (c.item.created, c.item.pk), reverse=True)
    return sorted(candidates, key=lambda c: (-c.relevance, -c.semantic, c.item.pk))


def _group_duplicates(ordered):
    """Fold each near-duplicate (appearance cosine >= NEAR_DUPLICATE) into the first, higher
    placed, result it duplicates."""
    kept = []
    for c in ordered:
        c.appearance = c.item.profile.appearance_array()
        if c.appearance.size:
            for k in kept:
                if (
                    k.appearance is not None
                    and k.appearance.size == c.appearance.size
                    and float(np.dot(k.appearance, c.appearance)) >= relevance.NEAR_DUPLICATE
                ):
                    k.duplicates.append(c.item)
                    break
            else:
                kept.append(c)
        else:
            kept.append(c)
    return kept


def _explain_text(query, vector, words, word_vectors, c: _Candidate, bank) -> Result:
    item, profile = c.item, c.item.profile
    contributions = _contributions(vector, profile, bank)
    positive = [x for x in contributions if x.value > 0][:HEATMAP_TERMS]
    matched: dict[str, list[str]] = {}

    # which query words each channel matched
    concept_rows = [x.concept_id for x in positive if x.concept_id is not None]
    if concept_rows and len(word_vectors):
        sims = np.asarray(bank.embeddings[concept_rows], np.float32) @ word_vectors.T
        for j, word in enumerate(words):
            best = int(np.argmax(sims[:, j]))
            if sims[best, j] >= WORD_CONCEPT_MIN or word.stem in lexical.stems(
                str(bank.names[concept_rows[best]])
            ):
                matched.setdefault(word.text, []).append("semantic")
    channels = [
        Channel(
            "semantic",
            c.p_semantic,
            c.semantic,
            f"concepts {c.p_semantic:.0%}: {_contributions_line(contributions)}",
            words=[w for w, ch in matched.items() if "semantic" in ch],
        )
    ]
    if c.caption_words:
        phrase_text, boxes = _caption_evidence(item, c.caption_words)
        hit = [w.text for w in words if w.stem in c.caption_words]
        for w in hit:
            matched.setdefault(w, []).append("caption")
        channels.append(
            Channel(
                "caption",
                c.p_caption,
                len(c.caption_words) / max(len(words), 1),
                f"caption {c.p_caption:.0%}: the caption phrase “{phrase_text}” has"
                f" {', '.join(hit)}",
                words=hit,
                text=phrase_text,
                boxes=boxes,
            )
        )
    if c.ocr_words:
        line, box = _ocr_evidence(item, c.ocr_words)
        hit = [w.text for w in words if w.stem in c.ocr_words]
        for w in hit:
            matched.setdefault(w, []).append("ocr")
        channels.append(
            Channel(
                "ocr",
                c.p_ocr,
                len(c.ocr_words) / max(len(words), 1),
                f"read text {c.p_ocr:.0%}: the line “{line}” read in the image has"
                f" {', '.join(hit)}",
                words=hit,
                text=line,
                boxes=[box] if box else [],
            )
        )
    unmatched = [w.text for w in words if w.text not in matched]
    sentence = explain.search_justification(
        query, [(x.concept, x.value) for x in contributions], c.semantic
    )
    lexical_parts = [ch.summary.split(":", 1)[1].strip() for ch in channels[1:]]
    if lexical_parts:
        sentence += " Also " + "; ".join(lexical_parts) + "."
    if unmatched:
        sentence += f" No evidence for: {', '.join(unmatched)}."
    return Result(
        item=item,
        relevance=c.relevance,
        score=c.semantic,
        channels=channels,
        contributions=contributions,
        heatmap_url=heatmap_url(item.pk, positive),
        justification=sentence,
        matched_words=matched,
        unmatched_words=unmatched,
        duplicates=c.duplicates,
    )


def _contributions(vector, profile, bank) -> list[Contribution]:
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
        contributions.sort(key=lambda x: x.value, reverse=True)
    return contributions


def _contributions_line(contributions: list[Contribution]) -> str:
    return explain.format_contributions([(x.concept, x.value) for x in contributions])


def _caption_evidence(item: MediaItem, stems: set[str]) -> tuple[str, list[list[float]]]:
    """The caption phrase holding a matched word (with its boxes), else the whole caption."""
    caption = item.caption or ""
    for phrase in item.caption_phrases or []:
        text = caption[int(phrase.get("start", 0)) : int(phrase.get("end", 0))]
        if lexical.stems(text) & stems:
            return text, [list(b) for b in phrase.get("boxes") or []]
    return caption, []


def _ocr_evidence(item: MediaItem, stems: set[str]) -> tuple[str, list[float] | None]:
    for line in item.text_lines or []:
        if lexical.stems(str(line.get("text", ""))) & stems:
            return str(line.get("text", "")), list(line.get("box") or []) or None
    return _ocr_text(item), None


def _ocr_text(item: MediaItem) -> str:
    return "\n".join(str(line.get("text", "")) for line in item.text_lines or [])


def _text_label(term: dict) -> str:
    """How a text term reads in an explanation: the read line, or the caption, quoted."""
    prefix = "the caption " if term.get("kind") == "caption" else ""
    return f"{prefix}“{term['text']}”"


def heatmap_url(item_id: int, contributions: Sequence[Contribution]) -> str:
    """The query-conditioned heat map: positive contributions as CAM weights."""
    path = reverse("media:heatmap", args=[item_id])
    terms = ",".join(f"{c.key}:{c.value:.4f}" for c in contributions) or "0:0"
    return f"{path}?{urlencode({'c': terms}, safe=':,')}"


# --- find similar -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What "find similar" starts from: an indexed item, or an analysed upload."""

    description: str
    semantic: np.ndarray
    appearance: np.ndarray
    concept_ids: list[int]
    weights: list[float]
    item: MediaItem | None = None


def source_from_item(user, item_id: int) -> Source:
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


def source_from_upload(data: bytes, name: str = "") -> Source:
    """Analyse an uploaded image for a query (concepts and appearance only: no OCR, no NSFW, no
    faithfulness). Raises ``imaging.InvalidMedia`` with the same checks as uploads."""
    from glassbox.config import get_settings
    from glassbox.pipeline import analyze

    cfg = dataclasses.replace(get_settings(), ocr=False, nsfw=False, faithfulness="off")
    analysis = analyze(data, runtime.inference_client(), runtime.concept_bank(), cfg)
    appearance = np.asarray(analysis.appearance, dtype=np.float32)
    norm = float(np.linalg.norm(appearance))
    return Source(
        description=name or "the uploaded image",
        semantic=np.asarray(analysis.semantic.vector, dtype=np.float32),
        appearance=appearance / norm if norm > 0 else appearance,
        concept_ids=[int(c) for c in analysis.semantic.concept_ids],
        weights=[float(w) for w in analysis.semantic.weights],
    )


def similar(
    user,
    source: Source,
    *,
    filters: SearchFilters | None = None,
    page: int = 1,
    limit: int = DEFAULT_LIMIT,
    sort: str = "relevance",
    weaker: bool = False,
    timings: dict[str, float] | None = None,
) -> SearchPage:
    """Items visible to ``user`` that look like ``source`` or show the same concepts."""
    limit, page, sort = clean_limit(limit), clean_page(page), clean_sort(sort)
    filters = filters or SearchFilters()
    bank = runtime.concept_bank()
    index_filters = filters.to_index(bank)
    clock = _Clock(timings)
    clock.lap("encode")  # the vectors are stored (or were just computed for an upload)

    index = runtime.media_index()
    want = _candidates_wanted(page, limit) + 1
    ids = []
    if source.appearance.size == index.appearance_dim:
        ids += [
            h.id
            for h in index.search(source.appearance, want, user.pk, index_filters, "appearance")
        ]
    ids += [h.id for h in index.search(source.semantic, want, user.pk, index_filters)]
    clock.lap("milvus")

    exclude = source.item.pk if source.item is not None else None
    items = [i for i in _hydrate(user, ids) if i.pk != exclude]
    clock.lap("hydrate")

    candidates = []
    for item in items:
        c = _Candidate(item=item)
        c.semantic = float(np.dot(item.profile.vector_array(), source.semantic))
        theirs = item.profile.appearance_array()
        app = (
            float(np.dot(theirs, source.appearance))
            if theirs.size == source.appearance.size
            else 0.0
        )
        c.p_semantic = app  # kept here for the explanation
        c.relevance = relevance.similarity(app, c.semantic)
        candidates.append(c)
    kept, hidden = _cut(candidates, relevance.SIMILAR_CUTOFF, weaker)
    groups = _group_duplicates(_order(kept, sort))
    shown = groups[(page - 1) * limit : page * limit]
    results = [_explain_similar(source, c, bank) for c in shown]
    clock.lap("explain")
    return SearchPage(
        mode="similar",
        query=source.description,
        results=results,
        page=page,
        limit=limit,
        sort=sort,
        weaker=weaker,
        cutoff=relevance.SIMILAR_CUTOFF,
        matched=len(kept),
        hidden=hidden,
        has_next=len(groups) > page * limit,
        source=source.item,
        timings=dict(timings or {}),
    )


def _explain_similar(source: Source, c: _Candidate, bank) -> Result:
    item, profile = c.item, c.item.profile
    mine = dict(zip(source.concept_ids, source.weights, strict=True))
    shared = sorted(
        (
            (int(cid), float(w) * mine[int(cid)])
            for cid, w in zip(profile.concept_ids, profile.weights, strict=True)
            if int(cid) in mine
        ),
        key=lambda pair: pair[1],
        reverse=True,
    )
    named = [(str(bank.names[cid]), value) for cid, value in shared]
    contributions = [Contribution(cid, str(bank.names[cid]), value) for cid, value in shared]
    appearance = c.p_semantic
    listed = ", ".join(name for name, _ in named[:3])
    if named:
        why = f"Both show {listed}"
    else:
        why = "They share no concept"
    sentence = (
        f"{why} (concept similarity {c.semantic:.2f}); appearance similarity {appearance:.2f}"
        f"{' — a near-duplicate' if appearance >= relevance.NEAR_DUPLICATE else ''}."
    )
    channels = [
        Channel("appearance", appearance, appearance, f"appearance {appearance:.2f}"),
        Channel(
            "concepts",
            c.semantic,
            c.semantic,
            f"shared concepts: {explain.format_contributions(named) if named else 'none'}",
            words=[name for name, _ in named[:5]],
        ),
    ]
    return Result(
        item=item,
        relevance=c.relevance,
        score=c.semantic,
        channels=channels,
        contributions=contributions,
        heatmap_url=heatmap_url(item.pk, contributions[:HEATMAP_TERMS]),
        justification=sentence,
        duplicates=c.duplicates,
        shared_concepts=named,
        appearance=appearance,
    )


# --- helpers ----------------------------------------------------------------------------------


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


def _bounded(raw, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise SearchQueryError(f"{name} must be an integer", field=name) from exc
    if not low <= value <= high:
        raise SearchQueryError(f"{name} must be between {low} and {high}", field=name)
    return value


def _date(raw: str | None, name: str) -> dt.date | None:
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise SearchQueryError(
            f"{name} must be a date as YYYY-MM-DD, got {raw[:40]!r}", field=name
        ) from exc


def _day_start(day: dt.date) -> int:
    """Unix seconds of the day's start in the server's time zone."""
    start = dt.datetime.combine(day, dt.time.min)
    return int(timezone.make_aware(start).timestamp())
