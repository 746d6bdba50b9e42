"""Personal data and other patterns in read text (stdlib only): phone numbers, e-mail
addresses, card-like numbers (with the Luhn check), a policy's own regular expressions and
word lists.

Each finder takes one read line and returns its :class:`TextMatch` es, left to right. The
rules, and the strings they deliberately leave alone:

- **phone**: 7 to 15 digits (E.164's longest), optionally after ``+`` or ``00``, in groups
  separated by single spaces, dots, hyphens, slashes or parentheses ("+44 20 7946 0958",
  "(555) 013-4567", "555 0134"). Not a date ("2026-01-15", "15.01.2026"), not a decimal
  number ("3.14159265"), not part of a word or code ("G19438", "YSH9937"), and not a digit
  run that passes as a card (below);
- **email**: ``local@domain.tld`` with a letters-only top-level domain of two or more; a
  space either side of the ``@`` is allowed, because OCR sometimes reads one;
- **card**: 13 to 19 digits, optionally in groups separated by single spaces or hyphens,
  whose Luhn checksum is right ("4111 1111 1111 1111"); a wrong checksum is not a card;
- ``re:<regex>``: a policy's own expression, searched case-insensitively;
- a **word list**: each word or phrase as a whole word, case-insensitively ("gun" is not
  found in "begun").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUILTIN = ("phone", "email", "card")
REGEX_PREFIX = "re:"
# what each kind of match is called in a rule ("phone number “555 0134”")
DESCRIPTIONS = {"phone": "phone number", "email": "e-mail address", "card": "card-like number"}

_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)?\(?\d(?:[ .\-/]|\) ?|\d){5,24}\d(?![\w])",
)
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_DECIMAL = re.compile(r"\d+[.]\d+")
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w])"
)
_CARD = re.compile(r"(?<![\w])\d(?:[ \-]?\d){12,18}(?![\w])")


@dataclass(frozen=True)
class TextMatch:
    """One match in a read line: what kind (``phone``, ``email``, ``card``, the ``re:``
    pattern, or ``word``), the matched text and where it starts."""

    kind: str
    text: str
    start: int

    @property
    def description(self) -> str:
        if self.kind in DESCRIPTIONS:
            return DESCRIPTIONS[self.kind]
        if self.kind == "word":
            return "listed word"
        return f"text matching {self.kind}"

    def shown(self) -> str:
        """The matched text as a rule shows it: a card-like number keeps only its last four
        digits ("•••• 1111"), everything else as read."""
        if self.kind != "card":
            return self.text
        digits = _digits(self.text)
        return f"•••• {digits[-4:]}"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (ISO/IEC 7812)."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_cards(line: str) -> list[TextMatch]:
    found = []
    for m in _CARD.finditer(line):
        text = m.group(0)
        if not _single_separators(text):
            continue
        digits = _digits(text)
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(TextMatch("card", text, m.start()))
    return found


def find_phones(line: str) -> list[TextMatch]:
    cards = find_cards(line)
    found = []
    for m in _PHONE.finditer(line):
        text = m.group(0).rstrip(" .-/")
        digits = _digits(text)
        if not 7 <= len(digits) <= 15:
            continue
        if _DATE.fullmatch(text) or _DECIMAL.fullmatch(text) or not _single_separators(text):
            continue
        if text.count("(") != text.count(")"):
            continue
        if any(c.start <= m.start() < c.start + len(c.text) for c in cards):
            continue  # the same digits are a card-like number
        found.append(TextMatch("phone", text, m.start()))
    return found


def find_emails(line: str) -> list[TextMatch]:
    return [TextMatch("email", m.group(0), m.start()) for m in _EMAIL.finditer(line)]


FINDERS = {"phone": find_phones, "email": find_emails, "card": find_cards}


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled expression of an ``re:`` pattern (``None`` for a built-in name). Raises
    ``ValueError`` naming the problem for an unknown name or an expression that does not
    compile, or that matches the empty string (it would match every line)."""
    if pattern in BUILTIN:
        return None
    if not pattern.startswith(REGEX_PREFIX):
        raise ValueError(
            f"unknown pattern {pattern!r}: use one of {', '.join(BUILTIN)} or re:<regex>"
        )
    source = pattern[len(REGEX_PREFIX) :]
    if not source:
        raise ValueError(f"pattern {pattern!r} has an empty regular expression")
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    if compiled.fullmatch(""):
        raise ValueError(f"pattern {pattern!r} matches the empty string, so every line")
    return compiled


def word_pattern(word: str) -> re.Pattern[str]:
    """A listed word or phrase as a whole word, any case, any run of spaces between words."""
    parts = [re.escape(p) for p in word.split()]
    if not parts:
        raise ValueError("an empty word")
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def find(line: str, patterns: tuple[str, ...] = (), words: tuple[str, ...] = ()) -> list[TextMatch]:
    """Every match of ``patterns`` (built-in names or ``re:`` expressions) and ``words`` in
    one read line, left to right; of overlapping matches, the one starting first (the
    longest of those starting together; a built-in before a pattern before a word) counts."""
    found: list[TextMatch] = []
    for pattern in patterns:
        if pattern in FINDERS:
            found.extend(FINDERS[pattern](line))
            continue
        compiled = compile_pattern(pattern)
        for m in compiled.finditer(line):
            if m.group(0):
                found.append(TextMatch(pattern, m.group(0), m.start()))
    for word in words:
        for m in word_pattern(word).finditer(line):
            found.append(TextMatch("word", m.group(0), m.start()))
    kept: list[TextMatch] = []
    end = -1
    for match in sorted(found, key=lambda m: (m.start, -len(m.text))):  # stable: order kept
        if match.start >= end:
            kept.append(match)
            end = match.start + len(match.text)
    return kept


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _single_separators(text: str) -> bool:
    """No two separators in a row (besides ") " and " ("): "555  0134" or "555--0134" reads as
    two numbers."""
    return re.search(r"[.\-/]{2,}|[ ]{2,}|[.\-/][ ]|[ ][.\-/]", text) is None
