from __future__ import annotations

import pytest
from glassbox.explain.english import article, clean_text, plural


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("Eskimo dog", "an"),
        ("dog", "a"),
        ("English setter", "an"),
        ("unicycle", "a"),
        ("umbrella", "an"),
        ("European fire salamander", "a"),
        ("hourglass", "an"),
        ("one-armed bandit", "a"),
        ("ox", "an"),
        ("MP3 player", "an"),
        ("CD player", "a"),
    ],
)
def test_article(noun, expected):
    assert article(noun) == expected


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("dog", "dogs"),
        ("Eskimo dog", "Eskimo dogs"),
        ("fox", "foxes"),
        ("bird of prey", "birds of prey"),
        ("butterfly", "butterflies"),
        ("monkey", "monkeys"),
        ("ox", "oxen"),
        ("sheep", "sheep"),
        ("fireman", "firemen"),
        ("German shepherd", "German shepherds"),
        ("wolf", "wolves"),
        ("goldfish", "goldfish"),
    ],
)
def test_plural(noun, expected):
    assert plural(noun) == expected


def test_clean_text_drops_controls_collapses_space_and_swaps_double_quotes():
    assert clean_text('  say\t"hi"\x00\n now ', 40) == "say 'hi' now"


def test_clean_text_cuts_a_long_text_at_a_word_in_its_second_half():
    assert clean_text("a very long line of text that goes on and on", 20) == "a very long line…"
    assert clean_text("abcdefghijklmnopqrstuvwxyz", 10) == "abcdefghi…"
