"""Choosing tags and writing one-line justifications (plain text; the web escapes it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glassbox.evidence_types import Box

# A region covering at least this fraction of the image is "most of the image".
_MOST_OF_IMAGE = 0.7


def select_tags(probs: np.ndarray, threshold: float, max_tags: int) -> list[tuple[int, float]]:
    """The concepts to tag, most probable first, as ``(concept_id, prob)``.

    Rule: every concept with ``prob >= threshold``, at most ``max_tags`` of them. If none
    reaches the threshold, the top-1 alone is kept when it reaches ``threshold / 2``: a
    clear winner of a spread-out distribution (say 8% against 1-2% for the rest) is still
    worth one tag, while a flat distribution yields no tag at all.
    """
    p = np.asarray(probs, dtype=np.float64)
    if max_tags <= 0 or p.size == 0:
        return []
    order = np.argsort(-p, kind="stable")
    tags = [(int(i), float(p[i])) for i in order[:max_tags] if p[i] >= threshold]
    if not tags and p[order[0]] >= threshold / 2:
        tags = [(int(order[0]), float(p[order[0]]))]
    return tags


def describe_box(box: Box) -> str:
    """Where and how big a region is, in words: "a small region at the top-left"."""
    x0, y0, x1, y1 = box
    area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    if area >= _MOST_OF_IMAGE:
        return "most of the image"
    horizontal = _third((x0 + x1) / 2, ("left", "centre", "right"))
    vertical = _third((y0 + y1) / 2, ("top", "middle", "bottom"))
    if vertical == "middle":
        place = "centre" if horizontal == "centre" else f"centre-{horizontal}"
    else:
        place = vertical if horizontal == "centre" else f"{vertical}-{horizontal}"
    size = "a small region" if area < 0.1 else "a medium region" if area < 0.3 else "a large region"
    return f"{size} at the {place} of the image"


def tag_justification(
    name: str,
    prob: float,
    box: Box | None,
    runner_up: str | None,
    runner_up_prob: float | None = None,
) -> str:
    """One line on why a tag was given, e.g.

    "Tagged golden retriever (62%): the evidence concentrates in a small region at the
    centre-left of the image; next best: Labrador retriever (12%)."
    """
    text = f"Tagged {name} ({_percent(prob)})"
    if box is not None:
        where = describe_box(box)
        verb = "spreads over" if where == "most of the image" else "concentrates in"
        text += f": the evidence {verb} {where}"
    if runner_up is not None:
        text += f"; next best: {runner_up}"
        if runner_up_prob is not None:
            text += f" ({_percent(runner_up_prob)})"
    return text + "."


def group_justification(
    name: str, prob: float, box: Box | None, leaves: Sequence[tuple[str, float]]
) -> str:
    """One line for a broader tag, naming the leaves that carry it, e.g.

    "Tagged dog (87%), carried by Eskimo dog (28%), malamute (26%) and Siberian husky (16%):
    the evidence concentrates in a region at the bottom-left of the image."
    """
    named = [f"{leaf} ({_percent(p)})" for leaf, p in leaves[:3]]
    text = f"Tagged {name} ({_percent(prob)})"
    if named:
        joined = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        text += f", carried by {joined}"
    if box is not None:
        where = describe_box(box)
        verb = "spreads over" if where == "most of the image" else "concentrates in"
        text += f": the evidence {verb} {where}"
    return text + "."


def counterfactual_sentence(entry: dict) -> str:
    """ "Masking this region drops the score from 91% to 7%." (or "raises", or "leaves")."""
    before, after = entry["before"], entry["after"]
    if abs(before - after) < 0.005:
        verb = "leaves the score at"
        return f"Masking this region {verb} {_percent(before)}."
    verb = "drops" if after < before else "raises"
    return f"Masking this region {verb} the score from {_percent(before)} to {_percent(after)}."


def format_contributions(contributions: Sequence[tuple[str, float]], limit: int = 3) -> str:
    """ "golden retriever 0.41 + Labrador retriever 0.12 + 3 more 0.05 = 0.58" (largest first).

    The terms beyond ``limit`` are summed into one "N more" term, and the total closes the
    line, so what is shown adds up exactly to the score (up to the rounding of each term).
    """
    shown = list(contributions[:limit])
    rest = list(contributions[limit:])
    if rest:
        shown.append((f"{len(rest)} more", sum(value for _, value in rest)))
    parts: list[str] = []
    for name, value in shown:
        term = f"{name} {abs(value):.2f}"
        if not parts:
            parts.append(term if value >= 0 else f"−{term}")
        else:
            parts.append(f"{'−' if value < 0 else '+'} {term}")
    if len(shown) > 1:
        parts.append(f"= {sum(value for _, value in contributions):.2f}")
    return " ".join(parts)


def search_justification(
    query: str, contributions: Sequence[tuple[str, float]], score: float
) -> str:
    """One sentence naming the 1-3 concepts that carry a match, e.g.

    'Matches "dog" mostly through golden retriever (0.41) and Labrador retriever (0.12).'

    Only positive contributions are named, and only those at least a tenth of the largest.
    """
    quoted = f'"{_shorten(query.strip(), 60)}"'
    positive = sorted((c for c in contributions if c[1] > 0), key=lambda c: c[1], reverse=True)
    if not positive:
        return f"No concept of this item supports {quoted} (score {score:.2f})."
    named = [c for c in positive[:3] if c[1] >= 0.1 * positive[0][1]]
    terms = [f"{name} ({value:.2f})" for name, value in named]
    listed = terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + f" and {terms[-1]}"
    return f"Matches {quoted} mostly through {listed}."


def _third(centre: float, words: tuple[str, str, str]) -> str:
    return words[0] if centre < 1 / 3 else words[1] if centre <= 2 / 3 else words[2]


def _percent(p: float) -> str:
    return "<1%" if 0 < p < 0.005 else f"{p:.0%}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
