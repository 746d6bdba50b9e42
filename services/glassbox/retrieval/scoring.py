"""Scoring search candidates (plain ``ItemRecord``s): calibrated relevance per channel, the
cut-off, the order shown, and the grouping of near-duplicates.

A text query's candidate is scored by three channels (``glassbox.retrieval.relevance``):
the semantic cosine standardised against the query's background, and the share of the query's
stems found in the caption and in the read text; the channels' probabilities are combined by
noisy-OR. A "find similar" candidate is scored by the mean of its appearance and semantic
cosines with the source.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

import numpy as np

from . import lexical, relevance
from .records import ItemRecord, Source

SORTS = ("relevance", "date")


@dataclass
class Candidate:
    """A record and what each channel found in it."""

    record: ItemRecord
    semantic: float = 0.0  # the semantic cosine with the query (or the source)
    z: float = 0.0
    p_semantic: float = 0.0
    caption_words: set[str] = field(default_factory=set)  # query stems in the caption
    ocr_words: set[str] = field(default_factory=set)  # query stems in the read text
    p_caption: float = 0.0
    p_ocr: float = 0.0
    appearance: float = 0.0  # find similar: the appearance cosine with the source
    relevance: float = 0.0
    duplicates: list[ItemRecord] = field(default_factory=list)  # near-duplicates grouped here
    moments: list[Candidate] = field(default_factory=list)  # a video's best windows, best first


def score_text(
    record: ItemRecord, vector: np.ndarray, bg: relevance.Background, query_stems: Set[str]
) -> Candidate:
    """``record`` against a text query: its ``vector``, background and content-word stems."""
    c = Candidate(record=record)
    c.semantic = float(np.dot(record.semantic.astype(np.float64), vector))
    c.z = bg.z(c.semantic)
    c.p_semantic = relevance.semantic_probability(c.z)
    if query_stems:
        c.caption_words = query_stems & lexical.stems(record.caption)
        c.ocr_words = query_stems & lexical.stems(record.ocr_text)
        c.p_caption = relevance.lexical_probability(
            len(c.caption_words) / len(query_stems), relevance.CAPTION_PRIOR
        )
        c.p_ocr = relevance.lexical_probability(
            len(c.ocr_words) / len(query_stems), relevance.OCR_PRIOR
        )
    c.relevance = relevance.combine([c.p_semantic, c.p_caption, c.p_ocr])
    return c


def score_similar(record: ItemRecord, source: Source) -> Candidate:
    """``record`` against the item (or image) "find similar" starts from."""
    c = Candidate(record=record)
    c.semantic = float(np.dot(record.semantic, source.semantic))
    theirs = record.appearance
    c.appearance = (
        float(np.dot(theirs, source.appearance)) if theirs.size == source.appearance.size else 0.0
    )
    c.relevance = relevance.similarity(c.appearance, c.semantic)
    return c


MOMENTS = 3  # a video result lists at most this many moments


def with_moments(video: Candidate, moments: list[Candidate], keep: int = MOMENTS) -> Candidate:
    """A video's candidate with its best-matching windows: it is as relevant as its best
    moment (a video matches where one of its shots matches), and lists up to ``keep``."""
    ranked = sorted(moments, key=lambda m: (-m.relevance, -m.semantic, m.record.start_s))
    video.moments = ranked[:keep]
    if ranked and ranked[0].relevance > video.relevance:
        best = ranked[0]
        video.relevance, video.p_semantic = best.relevance, max(video.p_semantic, best.p_semantic)
        video.p_caption, video.p_ocr = max(video.p_caption, best.p_caption), max(
            video.p_ocr, best.p_ocr
        )
    return video


def cut(candidates: list[Candidate], cutoff: float, weaker: bool) -> tuple[list[Candidate], int]:
    """The candidates shown and how many are hidden: those under ``cutoff`` unless ``weaker``."""
    above = [c for c in candidates if c.relevance >= cutoff]
    if weaker:
        return candidates, 0
    return above, len(candidates) - len(above)


def order(candidates: list[Candidate], sort: str) -> list[Candidate]:
    """By relevance (ties: semantic cosine, then id), or by date, newest first."""
    if sort == "date":
        return sorted(candidates, key=lambda c: (c.record.created, c.record.id), reverse=True)
    return sorted(candidates, key=lambda c: (-c.relevance, -c.semantic, c.record.id))


def group_duplicates(ordered: list[Candidate]) -> list[Candidate]:
    """Fold each near-duplicate (appearance cosine >= NEAR_DUPLICATE) into the first, higher
    placed, result it duplicates."""
    kept: list[Candidate] = []
    for c in ordered:
        mine = c.record.appearance
        if mine.size:
            for k in kept:
                theirs = k.record.appearance
                if (
                    theirs.size == mine.size
                    and float(np.dot(theirs, mine)) >= relevance.NEAR_DUPLICATE
                ):
                    k.duplicates.append(c.record)
                    break
            else:
                kept.append(c)
        else:
            kept.append(c)
    return kept
