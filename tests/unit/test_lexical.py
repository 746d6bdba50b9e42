"""The words of the lexical channels: stems, content words and their offsets."""

from __future__ import annotations

import pytest
from glassbox.retrieval import lexical


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("dogs", "dog"),
        ("Dog's", "dog"),
        ("bakeries", "bakery"),
        ("boxes", "box"),
        ("running", "run"),
        ("stopped", "stop"),
        ("children", "child"),
        ("people", "person"),
        ("grass", "grass"),
        ("bus", "bus"),
        ("red", "red"),
        ("sing", "sing"),  # too short a base to strip "ing"
    ],
)
def test_stem(word, stem):
    assert lexical.stem(word) == stem


def test_words_drop_stop_words_and_symbols_and_keep_offsets():
    text = "Two dogs, on the grass! 🙂 BAKERY-open"
    found = lexical.words(text)
    assert [w.stem for w in found] == ["two", "dog", "grass", "bakery", "open"]
    assert all(text[w.start : w.end] == w.text for w in found)
    assert lexical.index_text("The DOGS ran") == "dog ran"
    assert lexical.words("?!… 🙂") == []
