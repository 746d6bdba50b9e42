"""Scoring search candidates on plain records: channel probabilities, the cut-off, the order
shown and the grouping of near-duplicates (``glassbox.retrieval.scoring``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from glassbox.retrieval import relevance, scoring
from glassbox.retrieval.records import ItemRecord, Source, TextLine

DIM = 16


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


EMBEDDINGS = np.stack([unit(np.random.default_rng(i).normal(size=DIM)) for i in range(6)])


def record(
    id_: int,
    concepts=((0, 1.0),),
    *,
    appearance=(),
    day: int = 1,
    caption: str = "",
    lines: tuple[str, ...] = (),
) -> ItemRecord:
    ids = [c for c, _ in concepts]
    raw = sum(w * EMBEDDINGS[c].astype(np.float64) for c, w in concepts)
    norm = float(np.linalg.norm(raw))
    return ItemRecord(
        id=id_,
        created=dt.datetime(2025, 1, day, tzinfo=dt.UTC),
        semantic=(raw / norm).astype(np.float32),
        appearance=unit(appearance) if len(appearance) else np.zeros(0, np.float32),
        concept_ids=ids,
        weights=[w / norm for _, w in concepts],
        caption=caption,
        text_lines=[TextLine(text) for text in lines],
        item=f"item {id_}",
    )


def candidate(id_: int, relevance_: float, semantic: float = 0.0, **kw) -> scoring.Candidate:
    return scoring.Candidate(record=record(id_, **kw), semantic=semantic, relevance=relevance_)


def test_text_score_combines_the_channels_by_noisy_or() -> None:
    query = EMBEDDINGS[0]
    bg = relevance.background(query, EMBEDDINGS)
    r = record(1, caption="Two dogs on grass", lines=("DOG SHOW", "tickets"))
    c = scoring.score_text(r, query, bg, {"dog", "show", "cat"})
    assert c.semantic == pytest.approx(float(r.semantic @ query), abs=1e-6)
    assert c.p_semantic == pytest.approx(relevance.semantic_probability(bg.z(c.semantic)))
    assert c.caption_words == {"dog"} and c.ocr_words == {"dog", "show"}
    assert c.p_caption == pytest.approx(relevance.CAPTION_PRIOR / 3)
    assert c.p_ocr == pytest.approx(relevance.OCR_PRIOR * 2 / 3)
    assert c.relevance == pytest.approx(relevance.combine([c.p_semantic, c.p_caption, c.p_ocr]))


def test_text_score_without_content_words_is_semantic_only() -> None:
    query = EMBEDDINGS[0]
    bg = relevance.background(query, EMBEDDINGS)
    c = scoring.score_text(record(1, caption="a dog"), query, bg, set())
    assert c.caption_words == set() and c.p_caption == 0.0 and c.p_ocr == 0.0
    assert c.relevance == pytest.approx(c.p_semantic)


def test_similar_score_is_the_mean_of_appearance_and_semantic_cosines() -> None:
    r = record(2, ((0, 0.6), (1, 0.4)), appearance=(1, 1, 0, 0))
    source = Source("q", EMBEDDINGS[0], unit((1, 0, 0, 0)), [0], [1.0])
    c = scoring.score_similar(r, source)
    assert c.appearance == pytest.approx(2**-0.5, abs=1e-6)
    assert c.semantic == pytest.approx(float(r.semantic @ EMBEDDINGS[0]), abs=1e-6)
    assert c.relevance == pytest.approx((c.appearance + c.semantic) / 2)


def test_similar_score_ignores_an_appearance_of_another_size() -> None:
    r = record(2, appearance=(1, 0, 0))
    c = scoring.score_similar(r, Source("q", EMBEDDINGS[0], unit((1, 0, 0, 0)), [0], [1.0]))
    assert c.appearance == 0.0


def test_cut_hides_candidates_under_the_cutoff_unless_weaker() -> None:
    cs = [candidate(1, 0.9), candidate(2, 0.3), candidate(3, 0.29)]
    kept, hidden = scoring.cut(cs, 0.3, weaker=False)
    assert [c.record.id for c in kept] == [1, 2] and hidden == 1
    kept, hidden = scoring.cut(cs, 0.3, weaker=True)
    assert kept == cs and hidden == 0


def test_order_by_relevance_breaks_ties_by_semantic_then_id() -> None:
    cs = [candidate(4, 0.5, 0.1), candidate(3, 0.5, 0.1), candidate(2, 0.5, 0.2), candidate(1, 0.1)]
    assert [c.record.id for c in scoring.order(cs, "relevance")] == [2, 3, 4, 1]


def test_order_by_date_is_newest_first() -> None:
    cs = [candidate(1, 0.9, day=1), candidate(2, 0.1, day=3), candidate(3, 0.5, day=2)]
    assert [c.record.id for c in scoring.order(cs, "date")] == [2, 3, 1]


def test_near_duplicates_fold_into_the_first_placed() -> None:
    cs = [
        candidate(1, 0.9, appearance=(1, 0, 0, 0)),
        candidate(2, 0.8, appearance=(0, 1, 0, 0)),
        candidate(3, 0.7, appearance=(0.99, 0.05, 0, 0)),  # a copy of 1
        candidate(4, 0.6),  # no appearance stored: never grouped
        candidate(5, 0.5, appearance=(0, 0.98, 0.1, 0)),  # a copy of 2
    ]
    groups = scoring.group_duplicates(cs)
    assert [c.record.id for c in groups] == [1, 2, 4]
    assert [[d.id for d in c.duplicates] for c in groups] == [[3], [5], []]


def test_appearance_just_under_the_threshold_is_not_a_duplicate() -> None:
    a = unit((1, 0, 0, 0))
    angle = np.arccos(relevance.NEAR_DUPLICATE) + 1e-3
    b = (np.cos(angle), np.sin(angle), 0, 0)
    groups = scoring.group_duplicates(
        [candidate(1, 0.9, appearance=a), candidate(2, 0.8, appearance=b)]
    )
    assert [c.record.id for c in groups] == [1, 2]


def test_a_video_is_as_relevant_as_its_best_moment_and_lists_its_best_moments_first():
    video = candidate(1, 0.2, semantic=0.1)
    moments = [
        scoring.Candidate(record=record(1), relevance=r, semantic=r / 2)
        for r in (0.3, 0.9, 0.1, 0.6)
    ]
    scoring.with_moments(video, moments, keep=2)
    assert video.relevance == 0.9
    assert [m.relevance for m in video.moments] == [0.9, 0.6]


def test_a_video_that_matches_better_as_a_whole_keeps_its_own_relevance():
    video = candidate(1, 0.8)
    scoring.with_moments(video, [scoring.Candidate(record=record(1), relevance=0.4)])
    assert video.relevance == 0.8 and len(video.moments) == 1


def test_a_video_without_analysed_moments_is_unchanged():
    video = candidate(1, 0.5)
    scoring.with_moments(video, [])
    assert video.relevance == 0.5 and video.moments == []
