"""Each policy's measured precision, from the decisions moderators made.

A flag a moderator confirmed (and that stands: confirmed, appealed, upheld) counts as a true
positive; one dismissed by a moderator, or reinstated on appeal, as a false positive. Open
flags and the flags the system closed (a re-analysis no longer raised them) count for
neither. ``precision`` is confirmed / (confirmed + dismissed), ``None`` before any decision.

Beside it, the histogram of the decided flags' scores (ten bins over [0, 1], confirmed and
dismissed apart, and the open flags), and a suggested ``flag_at``: the lowest score at which
the flags decided at or above it reach ``TARGET_PRECISION``, given at least
``MIN_DECISIONS`` of them (``None`` otherwise: too few decisions to say).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from . import active, states
from .models import Flag, PolicyRecord

TARGET_PRECISION = 0.9
MIN_DECISIONS = 5
BINS = 10

TRUE_POSITIVE = frozenset(states.ENFORCED)
FALSE_POSITIVE = frozenset({states.DISMISSED, states.REINSTATED})


def verdict(state: str, decided_by_id: int | None) -> bool | None:
    """``True`` for a confirmed flag, ``False`` for a dismissed one, ``None`` otherwise."""
    if state in TRUE_POSITIVE:
        return True
    if state == states.REINSTATED:
        return False
    if state == states.DISMISSED:
        return False if decided_by_id is not None else None  # the system's close: no verdict
    return None


def bin_of(score: float) -> int:
    return min(BINS - 1, max(0, int(float(score) * BINS)))


def suggested_flag_at(decided: list[tuple[float, bool]]) -> float | None:
    """The lowest score ``t`` (one of the decided scores) such that the flags decided with a
    score at or above ``t`` are at least ``MIN_DECISIONS`` and ``TARGET_PRECISION`` precise."""
    candidates = sorted({score for score, _ in decided})
    for t in candidates:
        above = [ok for score, ok in decided if score >= t]
        if len(above) < MIN_DECISIONS:
            return None  # higher thresholds keep even fewer
        if sum(above) / len(above) >= TARGET_PRECISION:
            return round(t, 4)
    return None


def by_policy() -> list[dict[str, Any]]:
    """One entry per policy (those in force, then any other slug flags carry)."""
    active.sync_from_file()
    rows = Flag.objects.values_list("policy", "state", "decided_by_id", "score")
    decided: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    open_scores: dict[str, list[float]] = defaultdict(list)
    for policy, state, decided_by_id, score in rows:
        ok = verdict(state, decided_by_id)
        if ok is not None:
            decided[policy].append((float(score), ok))
        elif state in states.OPEN:
            open_scores[policy].append(float(score))
    slugs = list(PolicyRecord.objects.order_by("slug").values_list("slug", flat=True))
    slugs += sorted((set(decided) | set(open_scores)) - set(slugs))
    out = []
    for slug in slugs:
        found = decided.get(slug, [])
        confirmed = sum(1 for _, ok in found if ok)
        dismissed = len(found) - confirmed
        histogram = {
            "bins": [round(k / BINS, 2) for k in range(BINS + 1)],
            "confirmed": [0] * BINS,
            "dismissed": [0] * BINS,
            "open": [0] * BINS,
        }
        for score, ok in found:
            histogram["confirmed" if ok else "dismissed"][bin_of(score)] += 1
        for score in open_scores.get(slug, []):
            histogram["open"][bin_of(score)] += 1
        out.append(
            {
                "policy": slug,
                "name": active.described(slug)["name"],
                "confirmed": confirmed,
                "dismissed": dismissed,
                "precision": round(confirmed / len(found), 4) if found else None,
                "scores": histogram,
                "suggested_flag_at": suggested_flag_at(found),
            }
        )
    return out
