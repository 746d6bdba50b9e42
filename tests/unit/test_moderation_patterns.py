"""Personal data in read text (glassbox.moderation.patterns): phone numbers, e-mail addresses,
card-like numbers with the Luhn check, regular expressions and word lists, and the strings
each leaves alone (the read lines of the judged photos among them)."""

from __future__ import annotations

import pytest
from glassbox.moderation.patterns import (
    TextMatch,
    compile_pattern,
    find,
    find_cards,
    find_emails,
    find_phones,
    luhn_valid,
)


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("Tel +44 20 7946 0958", "+44 20 7946 0958"),
        ("call 555 0134", "555 0134"),
        ("(555) 013-4567 after six", "(555) 013-4567"),
        ("0044 20 7946 0958", "0044 20 7946 0958"),
        ("Mob: 07700.900.461", "07700.900.461"),
        ("+1-202-555-0173", "+1-202-555-0173"),
        ("fax 020/7946/0000", "020/7946/0000"),
    ],
)
def test_phone_numbers_are_found_as_written(line, number) -> None:
    assert [m.text for m in find_phones(line)] == [number]


@pytest.mark.parametrize(
    "line",
    [
        "G19438",  # board.jpg's part numbers and labels
        "YSH9937",
        "C24.576",
        "Tested To Comp",
        "2026-01-15",  # dates
        "15.01.2026",
        "3.14159265",  # a decimal number
        "ext 12 34",  # too few digits
        "1234567890123456",  # 16 digits: more than any phone number
        "555  0134",  # two numbers, not one
        "(555 0134",  # an unclosed parenthesis
        "4111 1111 1111 1111",  # a card-like number, not a phone number
    ],
)
def test_strings_that_are_not_phone_numbers(line) -> None:
    assert find_phones(line) == []


def test_emails_are_found_with_a_space_ocr_put_beside_the_at_sign() -> None:
    assert [m.text for m in find_emails("mail jane.doe@example.org today")] == [
        "jane.doe@example.org"
    ]
    assert [m.text for m in find_emails("j_doe+news @ mail.example.co.uk")] == [
        "j_doe+news @ mail.example.co.uk"
    ]
    assert find_emails("@glassbox on social") == []
    assert find_emails("user@localhost") == []  # no top-level domain
    assert find_emails("a@b.c1") == []  # a top-level domain is letters


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("79927398710")
    assert not luhn_valid("") and not luhn_valid("4111-1111")


def test_card_like_numbers_need_13_to_19_digits_and_the_luhn_check() -> None:
    assert [m.text for m in find_cards("VISA 4111 1111 1111 1111 exp")] == ["4111 1111 1111 1111"]
    assert [m.text for m in find_cards("5500-0000-0000-0004")] == ["5500-0000-0000-0004"]
    assert [m.text for m in find_cards("378282246310005")] == ["378282246310005"]  # 15 digits
    assert find_cards("4111 1111 1111 1112") == []  # wrong checksum
    assert find_cards("411111111111") == []  # 12 digits
    assert find_cards("order 41111111111111111111") == []  # 20 digits


def test_a_card_is_shown_by_its_last_four_digits_only() -> None:
    (card,) = find_cards("4111 1111 1111 1111")
    assert card.shown() == "•••• 1111"
    assert card.description == "card-like number"
    assert TextMatch("phone", "555 0134", 0).shown() == "555 0134"


def test_regular_expressions_and_word_lists() -> None:
    line = "Top  Secret: the SECRET code is begun"
    found = find(line, patterns=(r"re:\bsecret\b",), words=("top secret", "gun"))
    assert [(m.kind, m.text) for m in found] == [
        ("word", "Top  Secret"),  # whole words, any case, any spaces between them
        (r"re:\bsecret\b", "SECRET"),
    ]  # "gun" is not a word of "begun"; the "Secret" of the listed phrase counts once
    assert find("nothing here", patterns=("phone", "email", "card")) == []


def test_one_match_per_place_sorted_left_to_right() -> None:
    line = "jane@example.org or 555 0134"
    found = find(line, patterns=("phone", "email", r"re:\d{3} \d{4}"))
    assert [(m.kind, m.text) for m in found] == [
        ("email", "jane@example.org"),
        ("phone", "555 0134"),
    ]


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("postcode", "unknown pattern 'postcode': use one of phone, email, card or re:<regex>"),
        ("re:", "has an empty regular expression"),
        ("re:[a-", "is not a valid regular expression"),
        ("re:a?", "matches the empty string"),
    ],
)
def test_bad_patterns_are_refused_with_the_reason(pattern, problem) -> None:
    with pytest.raises(ValueError) as raised:
        compile_pattern(pattern)
    assert problem in str(raised.value)
    assert compile_pattern("phone") is None
    assert compile_pattern(r"re:\d+").search("A1")
