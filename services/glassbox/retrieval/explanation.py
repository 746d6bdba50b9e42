"""Why a search result matched, in numbers and words, from its scored ``Candidate``.

- a text query's result: its score split exactly into per-concept (and per-read-text)
  contributions (``glassbox.retrieval.conse``), the channels that matched (concepts, caption
  phrase, read line, with their boxes), which query word each channel matched, and the words
  nothing matched ("No evidence for: ...");
- a "find similar" result: the concepts both items share and the appearance similarity.

The heat map is named by the contributions it mixes (``Result.heatmap_terms``); the caller
turns them into its own URL.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field

import numpy as np

from glassbox.explain import justify

from . import conse, lexical, relevance
from .records import ItemRecord, Source
from .scoring import Candidate

MAX_QUERY_WORDS = 12  # content words embedded for the word-by-word explanation
HEATMAP_TERMS = 8  # most concepts mixed into a query heat map
WORD_CONCEPT_MIN = 0.5  # cosine at which a query word is said to match a concept's name


@dataclass(frozen=True)
class Contribution:
    concept_id: int | None  # None for a line of text read in the image
    concept: str  # the concept's name, or the read text in quotes
    value: float
    text_index: int | None = None  # which read line (ItemRecord.text_terms)
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
    item: object  # the record's ``item``: the caller's object
    relevance: float  # calibrated probability (text) or similarity (find similar), 0..1
    score: float  # the semantic cosine
    channels: list[Channel] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    heatmap_terms: list[Contribution] = field(default_factory=list)  # what its heat map mixes
    heatmap_url: str = ""  # set by the caller from heatmap_terms
    justification: str = ""
    matched_words: dict[str, list[str]] = field(default_factory=dict)  # word -> channels
    unmatched_words: list[str] = field(default_factory=list)
    duplicates: list[object] = field(default_factory=list)  # near-duplicates' items
    shared_concepts: list[tuple[str, float]] = field(default_factory=list)  # find similar
    appearance: float | None = None  # appearance cosine with the source (find similar)
    moments: list[Result] = field(default_factory=list)  # a video's best windows, explained
    shot: int | None = None  # a moment: its window and time range
    start_s: float = 0.0
    end_s: float = 0.0

    @property
    def contributions_text(self) -> str:
        return justify.format_contributions([(c.concept, c.value) for c in self.contributions])

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]


def query_words(query: str) -> list[lexical.Word]:
    """The query's content words, one per stem, at most ``MAX_QUERY_WORDS``."""
    unique: dict[str, lexical.Word] = {}
    for word in lexical.words(query):
        unique.setdefault(word.stem, word)
    return list(unique.values())[:MAX_QUERY_WORDS]


# --- text queries -----------------------------------------------------------------------------


def explain_text(
    query: str,
    vector: np.ndarray,
    words: Sequence[lexical.Word],
    word_vectors: np.ndarray,
    c: Candidate,
    bank,
) -> Result:
    """The result for text-query candidate ``c``; ``word_vectors`` embed ``words``, in order."""
    record = c.record
    contributions = contributions_of(vector, record, bank)
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
    # detected objects that contribute: the query words they name ("red", "bicycle") are
    # matched, and their boxes drawn (a colour or a count no object has stays unmatched)
    object_boxes: list[list[float]] = []
    for x in positive:
        term = record.text_terms[x.text_index] if x.text_index is not None else None
        if term is None or term.kind != "object":
            continue
        stems = lexical.stems(term.text)
        hit = [w for w in words if w.stem in stems]
        for w in hit:
            if "semantic" not in matched.get(w.text, []):
                matched.setdefault(w.text, []).append("semantic")
        if hit and term.box:
            object_boxes.append(list(term.box))
    channels = [
        Channel(
            "semantic",
            c.p_semantic,
            c.semantic,
            f"concepts {c.p_semantic:.0%}: {_contributions_line(contributions)}",
            words=[w for w, ch in matched.items() if "semantic" in ch],
            boxes=object_boxes,
        )
    ]
    if c.caption_words:
        phrase, boxes = caption_evidence(record, c.caption_words)
        says = f"caption {c.p_caption:.0%}: the caption phrase “{phrase}” has"
        channels.append(
            _lexical("caption", c.p_caption, c.caption_words, words, matched, says, phrase, boxes)
        )
    if c.ocr_words:
        line, box = ocr_evidence(record, c.ocr_words)
        says = f"read text {c.p_ocr:.0%}: the line “{line}” read in the image has"
        channels.append(
            _lexical("ocr", c.p_ocr, c.ocr_words, words, matched, says, line, [box] if box else [])
        )
    unmatched = [w.text for w in words if w.text not in matched]
    sentence = justify.search_justification(
        query, [(x.concept, x.value) for x in contributions], c.semantic
    )
    lexical_parts = [ch.summary.split(":", 1)[1].strip() for ch in channels[1:]]
    if lexical_parts:
        sentence += " Also " + "; ".join(lexical_parts) + "."
    if unmatched:
        sentence += f" No evidence for: {', '.join(unmatched)}."
    extra = {"matched_words": matched, "unmatched_words": unmatched}
    return _result(c, channels, contributions, positive, sentence, **extra)


def contributions_of(vector: np.ndarray, record: ItemRecord, bank) -> list[Contribution]:
    """``vector · record.semantic`` split exactly into concept and text-term contributions,
    largest first."""
    pairs = conse.decompose(vector, record.concept_ids, record.weights, bank.embeddings)
    contributions = [
        Contribution(concept_id=cid, concept=str(bank.names[cid]), value=value)
        for cid, value in pairs
    ]
    terms = record.text_terms
    if terms:
        values = conse.text_contributions(
            vector,
            np.array([t.embedding for t in terms], dtype=np.float64),
            np.array([t.weight for t in terms], dtype=np.float64),
        )
        contributions += [
            Contribution(None, t.label, v, text_index=j, box=list(t.box))
            for j, (t, v) in enumerate(zip(terms, values, strict=True))
        ]
        contributions.sort(key=lambda x: x.value, reverse=True)
    return contributions


def _lexical(
    name: str,
    probability: float,
    found: Set[str],
    words: Sequence[lexical.Word],
    matched: dict[str, list[str]],
    says: str,
    text: str,
    boxes: list[list[float]],
) -> Channel:
    """A lexical channel: the query words whose stems it ``found`` (added to ``matched``),
    the text that holds them and where it is."""
    hit = [w.text for w in words if w.stem in found]
    for w in hit:
        matched.setdefault(w, []).append(name)
    return Channel(
        name,
        probability,
        len(found) / max(len(words), 1),
        f"{says} {', '.join(hit)}",
        words=hit,
        text=text,
        boxes=boxes,
    )


def _contributions_line(contributions: list[Contribution]) -> str:
    return justify.format_contributions([(x.concept, x.value) for x in contributions])


def caption_evidence(record: ItemRecord, stems: Set[str]) -> tuple[str, list[list[float]]]:
    """The caption phrase holding a matched word (with its boxes), else the whole caption."""
    for phrase in record.caption_phrases:
        if lexical.stems(phrase.text) & stems:
            return phrase.text, [list(b) for b in phrase.boxes]
    return record.caption, []


def ocr_evidence(record: ItemRecord, stems: Set[str]) -> tuple[str, list[float] | None]:
    """The read line holding a matched word (with its box), else all the read text."""
    for line in record.text_lines:
        if lexical.stems(line.text) & stems:
            return line.text, list(line.box) or None
    return record.ocr_text, None


# --- find similar -----------------------------------------------------------------------------


def explain_similar(source: Source, c: Candidate, bank) -> Result:
    """The result for "find similar" candidate ``c``: the concepts both items share (weight
    products, largest first) and the appearance similarity."""
    record = c.record
    mine = dict(zip(source.concept_ids, source.weights, strict=True))
    shared = sorted(
        (
            (int(cid), float(w) * mine[int(cid)])
            for cid, w in zip(record.concept_ids, record.weights, strict=True)
            if int(cid) in mine
        ),
        key=lambda pair: pair[1],
        reverse=True,
    )
    named = [(str(bank.names[cid]), value) for cid, value in shared]
    contributions = [Contribution(cid, str(bank.names[cid]), value) for cid, value in shared]
    appearance = c.appearance
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
            f"shared concepts: {justify.format_contributions(named) if named else 'none'}",
            words=[name for name, _ in named[:5]],
        ),
    ]
    return _result(
        c,
        channels,
        contributions,
        contributions[:HEATMAP_TERMS],
        sentence,
        shared_concepts=named,
        appearance=appearance,
    )


def _result(
    c: Candidate,
    channels: list[Channel],
    contributions: list[Contribution],
    heatmap_terms: list[Contribution],
    justification: str,
    **extra,
) -> Result:
    return Result(
        item=c.record.item,
        relevance=c.relevance,
        score=c.semantic,
        channels=channels,
        contributions=contributions,
        heatmap_terms=heatmap_terms,
        justification=justification,
        duplicates=[d.item for d in c.duplicates],
        shot=c.record.shot,
        start_s=c.record.start_s,
        end_s=c.record.end_s,
        **extra,
    )
