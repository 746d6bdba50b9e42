"""Explaining search results on plain records: contributions that add up to the score, the
channels' evidence (caption phrase, read line, boxes), matched and unmatched query words, and
"find similar"'s shared concepts (``glassbox.retrieval.explanation``)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest
from glassbox.retrieval import explanation, relevance, scoring
from glassbox.retrieval.records import CaptionPhrase, ItemRecord, Source, TextLine, TextTerm

DIM = 16


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return (v / np.linalg.norm(v)).astype(np.float32)


EMBEDDINGS = np.stack([unit(np.random.default_rng(i).normal(size=DIM)) for i in range(6)])
BANK = SimpleNamespace(
    names=["dog", "cat", "grass", "car", "bakery", "sky"], embeddings=EMBEDDINGS, n_leaves=6
)
SIGN = unit(np.random.default_rng(99).normal(size=DIM))  # a read line's text embedding


def shop(**changes) -> ItemRecord:
    """Concepts dog 0.6 and grass 0.3 and the read line "BAKERY OPEN" 0.2 in its vector."""
    concepts, text_w = [(0, 0.6), (2, 0.3)], 0.2
    raw = sum(w * EMBEDDINGS[c].astype(np.float64) for c, w in concepts) + text_w * SIGN
    norm = float(np.linalg.norm(raw))
    caption = "Two dogs near a sign reading BAKERY."
    fields = dict(
        id=7,
        created=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        semantic=(raw / norm).astype(np.float32),
        appearance=unit((1, 0, 0, 0)),
        concept_ids=[c for c, _ in concepts],
        weights=[w / norm for _, w in concepts],
        text_terms=[
            TextTerm("BAKERY OPEN", text_w / norm, list(SIGN), box=(0.2, 0.6, 0.8, 0.7))
        ],
        caption=caption,
        caption_phrases=[
            CaptionPhrase("Two dogs", [[0.1, 0.1, 0.5, 0.5]]),
            CaptionPhrase("a sign reading BAKERY", [[0.2, 0.5, 0.9, 0.8]]),
        ],
        text_lines=[TextLine("BAKERY OPEN", [0.2, 0.6, 0.8, 0.7]), TextLine("since 1920")],
        item="the shop row",
    )
    return ItemRecord(**{**fields, **changes})


def explain(query: str, record: ItemRecord, word_vectors=None) -> explanation.Result:
    vector = EMBEDDINGS[0]
    words = explanation.query_words(query)
    if word_vectors is None:
        word_vectors = np.stack([EMBEDDINGS[5] for _ in words])  # "sky": near no concept
    bg = relevance.background(vector, EMBEDDINGS)
    c = scoring.score_text(record, vector, bg, {w.stem for w in words})
    return explanation.explain_text(query, vector, words, word_vectors, c, BANK)


def test_contributions_sum_to_the_semantic_score() -> None:
    r = shop()
    result = explain("dog", r)
    total = sum(c.value for c in result.contributions)
    assert total == pytest.approx(float(r.semantic.astype(np.float64) @ EMBEDDINGS[0]), abs=1e-5)
    assert result.score == pytest.approx(total, abs=1e-5)
    values = [c.value for c in result.contributions]
    assert values == sorted(values, reverse=True)
    (text,) = [c for c in result.contributions if c.concept_id is None]
    assert text.concept == "“BAKERY OPEN”" and text.key == "t0"
    assert text.box == [0.2, 0.6, 0.8, 0.7]


def test_the_caption_term_reads_as_the_caption() -> None:
    term = TextTerm("a dog on grass", 0.1, [0.0] * DIM, kind="caption")
    assert term.label == "the caption “a dog on grass”"


def test_heat_map_mixes_only_positive_contributions() -> None:
    result = explain("dog", shop())
    assert result.heatmap_terms and all(c.value > 0 for c in result.heatmap_terms)
    assert len(result.heatmap_terms) <= explanation.HEATMAP_TERMS
    assert result.heatmap_url == ""  # the caller builds its URL


def test_lexical_channels_name_the_phrase_and_the_line_with_boxes() -> None:
    result = explain("bakery zebra", shop())
    by_name = {c.name: c for c in result.channels}
    assert list(by_name) == ["semantic", "caption", "ocr"]
    assert by_name["caption"].text == "a sign reading BAKERY"
    assert by_name["caption"].boxes == [[0.2, 0.5, 0.9, 0.8]]
    assert by_name["ocr"].text == "BAKERY OPEN" and by_name["ocr"].boxes == [[0.2, 0.6, 0.8, 0.7]]
    assert by_name["caption"].words == ["bakery"] and by_name["ocr"].words == ["bakery"]
    assert by_name["caption"].score == pytest.approx(0.5)
    assert result.matched_words == {"bakery": ["caption", "ocr"]}
    assert result.unmatched_words == ["zebra"]
    assert result.justification.endswith(" No evidence for: zebra.")
    assert (
        " Also the caption phrase “a sign reading BAKERY” has bakery; the line “BAKERY OPEN”"
        " read in the image has bakery." in result.justification
    )


def test_a_word_near_a_shown_concept_is_matched_by_the_semantic_channel() -> None:
    result = explain("puppy zebra", shop(), word_vectors=np.stack([EMBEDDINGS[0], EMBEDDINGS[5]]))
    assert result.matched_words == {"puppy": ["semantic"]}
    assert result.channels[0].words == ["puppy"]
    assert "No evidence for: zebra." in result.justification


def test_a_concept_named_by_the_word_matches_even_when_far() -> None:
    r = shop(concept_ids=[0], weights=[1.0], caption="", caption_phrases=[], text_lines=[])
    result = explain("dogs", r)
    assert result.matched_words == {"dogs": ["semantic"]} and result.unmatched_words == []
    assert "No evidence for" not in result.justification


def test_evidence_falls_back_to_the_whole_caption_and_text() -> None:
    r = shop(caption_phrases=[], text_lines=[TextLine("bakery"), TextLine("open")])
    assert explanation.caption_evidence(r, {"two"}) == (r.caption, [])
    assert explanation.ocr_evidence(r, {"bakery"}) == ("bakery", None)
    assert explanation.ocr_evidence(r, {"zzz"}) == ("bakery\nopen", None)


def test_query_words_are_one_per_stem_and_bounded() -> None:
    many = " ".join(f"w{i}" for i in range(20))
    words = explanation.query_words(f"dogs dog the Dog's cats {many}")
    assert [w.text for w in words][:2] == ["dogs", "cats"]
    assert len(words) == explanation.MAX_QUERY_WORDS


def test_duplicates_and_item_are_carried_as_the_callers_objects() -> None:
    vector = EMBEDDINGS[0]
    c = scoring.score_text(shop(), vector, relevance.background(vector, EMBEDDINGS), set())
    c.duplicates.append(shop(id=8, item="the copy row"))
    result = explanation.explain_text("dog", vector, [], np.zeros((0, DIM)), c, BANK)
    assert result.item == "the shop row" and result.duplicates == ["the copy row"]


def test_find_similar_names_the_shared_concepts_and_appearance() -> None:
    r = shop(appearance=unit((0.95, 0.31, 0, 0)))
    source = Source("source", EMBEDDINGS[0], unit((1, 0, 0, 0)), [2, 0, 4], [0.5, 0.4, 0.1])
    c = scoring.score_similar(r, source)
    result = explanation.explain_similar(source, c, BANK)
    expected = sorted(
        [("dog", r.weights[0] * 0.4), ("grass", r.weights[1] * 0.5)],
        key=lambda pair: pair[1],
        reverse=True,
    )
    assert [x.concept for x in result.contributions] == [name for name, _ in expected]
    assert [x.value for x in result.contributions] == pytest.approx([v for _, v in expected])
    assert result.shared_concepts == [(x.concept, x.value) for x in result.contributions]
    assert result.justification.startswith("Both show ")
    assert f"appearance similarity {c.appearance:.2f} — a near-duplicate." in result.justification
    assert [ch.name for ch in result.channels] == ["appearance", "concepts"]
    assert result.appearance == pytest.approx(c.appearance)
    assert result.heatmap_terms == result.contributions[: explanation.HEATMAP_TERMS]


def test_find_similar_without_shared_concepts_says_so() -> None:
    source = Source("source", EMBEDDINGS[5], unit((0, 0, 0, 1)), [5], [1.0])
    r = shop()
    result = explanation.explain_similar(source, scoring.score_similar(r, source), BANK)
    assert result.contributions == [] and result.shared_concepts == []
    assert result.justification.startswith("They share no concept")
    assert result.channels[1].summary == "shared concepts: none"


def test_a_detected_objects_phrase_matches_its_words_and_draws_its_box() -> None:
    bike = TextTerm("red bicycle", 0.3, list(SIGN), box=(0.1, 0.2, 0.7, 0.7), kind="object")
    record = shop(text_terms=[bike])
    words = explanation.query_words("red bicycle")
    aligned = np.stack([SIGN for _ in words])  # both words embed like the object's phrase
    bg = relevance.background(SIGN, EMBEDDINGS)
    c = scoring.score_text(record, SIGN, bg, {w.stem for w in words})
    result = explanation.explain_text("red bicycle", SIGN, words, aligned, c, BANK)
    semantic = result.channels[0]
    assert semantic.boxes == [[0.1, 0.2, 0.7, 0.7]]
    assert set(semantic.words) >= {"red", "bicycle"} and result.unmatched_words == []
    assert any(x.concept == "the object “red bicycle”" for x in result.contributions)


def test_a_colour_no_object_has_stays_unmatched() -> None:
    bike = TextTerm("bicycle", 0.3, list(SIGN), box=(0.1, 0.2, 0.7, 0.7), kind="object")
    record = shop(text_terms=[bike], caption="", caption_phrases=[])
    words = explanation.query_words("blue bicycle")
    bg = relevance.background(SIGN, EMBEDDINGS)
    c = scoring.score_text(record, SIGN, bg, {w.stem for w in words})
    vectors = np.stack([EMBEDDINGS[5] for _ in words])  # near no concept
    result = explanation.explain_text("blue bicycle", SIGN, words, vectors, c, BANK)
    assert "blue" in result.unmatched_words and "bicycle" not in result.unmatched_words
    assert "No evidence for: blue" in result.justification
