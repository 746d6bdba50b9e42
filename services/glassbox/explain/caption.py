"""Grounded captions: a sentence composed only of parts that have evidence on the image.

``compose_caption`` turns what analysis already has — the concepts' probabilities, their class
activation maps (CAMs) and, later, OCR lines — into a short sentence such as::

    An Eskimo dog.
    A dog on the left of a bicycle with the text "GLASSBOX 2026".
    Two zebras.

Every noun phrase of the sentence is a :class:`Phrase` with character offsets into the text and
its evidence: at least one box (fractions of width and height) and the concept id(s) or the
OCR line it comes from. A part without evidence is never written. Numpy only.

Rules (thresholds in :class:`CaptionRules`):

1. **Which concepts, at which level.** Only ImageNet classes (leaves) whose CAM has positive
   evidence somewhere take part. The first main concept is the top leaf when it is confident
   (probability >= ``leaf_confident``, 0.5): "an Eskimo dog". Otherwise the probability is
   spread over siblings, and the caption names the *lowest* broader concept (WordNet hypernym,
   fewest leaves; ties: more mass, then the lower row) whose leaves gather at least
   ``group_mass`` (0.6): "a dog" rather than a 28% breed. Broader concepts over
   ``max_group_leaves`` leaves ("animal", "instrumentality") are too abstract to caption with.
   When the chosen concept's name is a compound whose head noun names a broader concept that
   also qualifies and contains it ("working dog" under "dog", "wading bird" under "bird"),
   the head noun is used: the modifier adds jargon, not evidence.
   A second main concept may follow, chosen the same way among the leaves the first does not
   cover, with lower thresholds (``second_leaf`` 0.25, ``second_group`` 0.3); a broader
   concept that overlaps the first is not eligible ("a dog and a mammal" says nothing).
   A concept's region is its CAM (a broader concept's: its leaves' CAMs mixed by
   probability), upsampled to the image's aspect, and the box of its largest region where
   the heat is at least half the peak — the same box a tag shows.
2. **Relative position**, only between two main concepts whose boxes are separated (they
   share at most ``overlap_max`` of the smaller box) and whose centres are at least
   ``position_gap`` apart along the dominant axis: "on the left of", "on the right of",
   "above", "below" (decided from the box centres). Otherwise the two are joined by "and".
3. **Counts**, only where the map supports them: the concept's heat is split into regions
   that stay apart down to ``count_low`` (0.35) of the peak, and a region counts when it
   reaches ``count_high`` (0.7) of the peak. Two to ``max_count`` such regions give "two" …
   "five" (a ``count`` phrase whose boxes are the regions); one region, or more than
   ``max_count``, gives no number.
4. **Visible text**: OCR lines ``(text, (x0, y0, x1, y1), score)`` with a score of at least
   ``text_min_score`` (0.8), in reading order (top to bottom, then left to right), at most
   ``text_max_lines`` of them, each cleaned (control characters dropped, whitespace
   collapsed, straight double quotes turned into single ones so the quoting stays
   unambiguous) and cut at ``text_max_chars`` with "…": 'with the text "GLASSBOX 2026"'. The
   text stays plain, untrusted text; whoever renders it escapes it.
5. **Nothing confident** (no main concept and no readable text): the caption is
   ``"No confident description."`` with no phrases.

Articles, plurals, number words and the cleaning of quoted text are English grammar
(``glassbox.explain.english``); boxes, the separated regions and relative positions are region
geometry (``glassbox.explain.regions``). This module only composes. Phrase labels are exactly
``text[start:end]``; the concept's bank name is in its evidence's concept id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from glassbox.evidence_types import Box
from glassbox.explain import cam
from glassbox.explain.english import NUMBER_WORDS, article, clean_text, plural
from glassbox.explain.regions import region_grid, relation, separate_regions, union_box

NO_CAPTION = "No confident description."
KINDS = ("concept", "text", "count", "position", "colour")

# An OCR line: ``(text, box, score)``, or any object with those attributes (such as
# ``glassbox.evidence_types.TextLine``); the box in fractions of width and height.
OcrLine = Any


class Bank(Protocol):
    names: Sequence[str]
    members: np.ndarray  # bool [n_broader, n_leaves]

    @property
    def n_leaves(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class CaptionRules:
    # The thresholds of composition (probabilities are of the model's leaf concepts).
    # main concepts: a leaf this confident is named; else the smallest broader concept with
    # this much of the mass; the second concept of a caption needs less
    leaf_confident: float = 0.5
    group_mass: float = 0.6
    second_leaf: float = 0.25
    second_group: float = 0.3
    max_group_leaves: int = 130  # a broader concept this large is too vague to name
    max_concepts: int = 2
    # where two concepts sit: centres this far apart (fractions) and boxes overlapping at
    # most this much make "left of" / "above" phrases
    position_gap: float = 0.15
    overlap_max: float = 0.3
    # regions and counts: the heat-map level that outlines a region, the low/high levels
    # that separate several instances, and the largest count that is spelt out
    region_rel: float = 0.5
    count_low: float = 0.35
    count_high: float = 0.7
    max_count: int = 5
    # read text: lines at least this confident, at most this many, clipped to this length
    text_min_score: float = 0.8
    text_max_lines: int = 3
    text_max_chars: int = 40


RULES = CaptionRules()


@dataclass(frozen=True)
class Evidence:
    boxes: tuple[Box, ...]  # (x0, y0, x1, y1) as fractions of width and height
    concept_ids: tuple[int, ...] = ()  # the concept(s) the phrase is about
    line: int | None = None  # index into the OCR lines given, for a text phrase


@dataclass(frozen=True)
class Phrase:
    start: int
    end: int
    kind: str  # "concept" | "text" | "count" | "position" | "colour" (object captions)
    label: str  # == caption text[start:end]
    evidence: Evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "label": self.label,
            "boxes": [[round(float(v), 4) for v in box] for box in self.evidence.boxes],
            "concept_ids": [int(c) for c in self.evidence.concept_ids],
            "line": self.evidence.line,
        }


@dataclass(frozen=True)
class Caption:
    text: str = NO_CAPTION
    phrases: list[Phrase] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "phrases": [p.as_dict() for p in self.phrases]}


@dataclass(frozen=True)
class _Unit:
    """One main concept of the caption, with its evidence."""

    concept_id: int
    name: str
    leaves: frozenset[int]
    boxes: tuple[Box, ...]  # the region(s) shown for the concept
    count: int  # > 1 only when the map has that many clearly separate regions

    @property
    def extent(self) -> Box:
        return union_box(self.boxes)


def compose_caption(
    concepts: Mapping[int, float],
    bank: Bank,
    regions: Mapping[int, Any],
    text_lines: Sequence[OcrLine] = (),
    *,
    aspect: tuple[int, int] = (1, 1),
    rules: CaptionRules = RULES,
) -> Caption:
    """The grounded caption of one image (rules in the module docstring).

    ``concepts`` maps leaf ids to probabilities (the classes that have a CAM), ``regions``
    maps those ids to their 7x7 CAMs, ``text_lines`` are OCR lines ``(text, box, score)``
    and ``aspect`` is the image's ``(height, width)``.
    """
    grid = region_grid(aspect)
    units = _main_concepts(concepts, bank, regions, grid, rules)
    lines = _readable_lines(text_lines, rules)
    if not units and not lines:
        return Caption(NO_CAPTION, [])

    out = _Builder()
    if units:
        _noun_phrase(out, units[0])
        if len(units) > 1:
            a, b = units[0], units[1]
            between = relation(a.extent, b.extent, rules.overlap_max, rules.position_gap)
            if between is None:
                out.plain(" and ")
            else:
                out.plain(" ")
                out.phrase(
                    between,
                    "position",
                    Evidence((a.extent, b.extent), (a.concept_id, b.concept_id)),
                )
                out.plain(" ")
            _noun_phrase(out, b)
        if lines:
            out.plain(" with the text ")
    else:
        out.plain("The text ")
    quote_lines(out, lines)
    out.plain(".")
    return out.caption()


# --- choosing the main concepts -------------------------------------------------------


def _main_concepts(
    concepts: Mapping[int, float],
    bank: Bank,
    regions: Mapping[int, Any],
    grid: tuple[int, int],
    rules: CaptionRules,
) -> list[_Unit]:
    n_leaves = bank.n_leaves
    members = np.asarray(bank.members, dtype=bool)
    maps = {}
    probs = np.zeros(n_leaves, dtype=np.float64)
    for cid, prob in concepts.items():
        cid = int(cid)
        if 0 <= cid < n_leaves and cid in regions:
            grid_map = np.asarray(regions[cid], dtype=np.float64)
            if grid_map.ndim == 2 and grid_map.size and np.isfinite(grid_map).all():
                if grid_map.max() > 0:  # some positive evidence to point at
                    maps[cid] = grid_map
                    probs[cid] = float(prob)
    sizes = members.sum(axis=1)
    units: list[_Unit] = []
    taken = np.zeros(n_leaves, dtype=bool)
    for k in range(rules.max_concepts):
        leaf_min, group_min = (
            (rules.leaf_confident, rules.group_mass)
            if k == 0
            else (rules.second_leaf, rules.second_group)
        )
        rest = np.where(taken, 0.0, probs)
        choice = _pick(rest, members, sizes, taken, leaf_min, group_min, bank.names, rules)
        if choice is None:
            break
        cid, leaves = choice
        heat_map = _concept_map(leaves, probs, maps)
        if heat_map is None:
            break
        units.append(_unit(cid, bank.names[cid], leaves, heat_map, grid, rules))
        taken[leaves] = True
    return units


def main_concept(
    probs: np.ndarray, bank: Bank, rules: CaptionRules = RULES
) -> tuple[int, np.ndarray] | None:
    """The concept at the right level of the hierarchy for leaf probabilities ``probs``:
    ``(concept id, its leaf ids)`` — the top leaf when it is confident, else the smallest
    broader concept gathering enough of the mass — or ``None``. Shared by captions and tags."""
    members = np.asarray(bank.members, dtype=bool)
    none_taken = np.zeros(probs.shape[0], dtype=bool)
    return _pick(
        np.asarray(probs, dtype=np.float64),
        members,
        members.sum(axis=1),
        none_taken,
        rules.leaf_confident,
        rules.group_mass,
        bank.names,
        rules,
    )


def _pick(
    rest: np.ndarray,
    members: np.ndarray,
    sizes: np.ndarray,
    taken: np.ndarray,
    leaf_min: float,
    group_min: float,
    names: Sequence[str],
    rules: CaptionRules,
) -> tuple[int, np.ndarray] | None:
    """``(concept id, its leaf ids)`` of the next main concept, or ``None``."""
    n_leaves = rest.shape[0]
    if not rest.any():
        return None
    top = int(np.argmax(rest))
    if rest[top] >= leaf_min:
        return top, np.array([top])
    if members.shape[0] == 0:
        return None
    present = np.flatnonzero(rest)  # the few leaves with mass: 16 at most in the pipeline
    mass = members[:, present].astype(np.float64) @ rest[present]
    eligible = (
        (mass >= group_min)
        & (sizes <= rules.max_group_leaves)
        & ~members[:, np.flatnonzero(taken)].any(axis=1)
    )
    rows = np.flatnonzero(eligible)
    if rows.size == 0:
        return None
    best = min(rows.tolist(), key=lambda r: (int(sizes[r]), -float(mass[r]), r))
    # A compound whose head noun is a qualifying broader concept above it: use the head noun.
    head = names[n_leaves + best].split()[-1] if " " in names[n_leaves + best] else None
    if head is not None:
        above = [
            r
            for r in rows.tolist()
            if names[n_leaves + r] == head and not (members[best] & ~members[r]).any()
        ]
        if above:
            best = min(above, key=lambda r: (int(sizes[r]), r))
    return n_leaves + best, np.flatnonzero(members[best])


def _concept_map(
    leaves: np.ndarray, probs: np.ndarray, maps: Mapping[int, np.ndarray]
) -> np.ndarray | None:
    """A concept's CAM: its own (a leaf) or its leaves' CAMs mixed by probability."""
    shown = [int(c) for c in leaves if int(c) in maps and probs[int(c)] > 0]
    if not shown:
        return None
    weights = probs[shown] / probs[shown].sum()
    mixed = np.tensordot(weights, np.stack([maps[c] for c in shown]), axes=1)
    return mixed if mixed.max() > 0 else None


def _unit(
    cid: int,
    name: str,
    leaves: np.ndarray,
    heat_map: np.ndarray,
    grid: tuple[int, int],
    rules: CaptionRules,
) -> _Unit:
    heat = cam.upsample(heat_map, grid)
    parts = separate_regions(heat, rules.count_low, rules.count_high, rules.region_rel)
    if 2 <= len(parts) <= min(rules.max_count, max(NUMBER_WORDS)):
        return _Unit(cid, name, frozenset(int(c) for c in leaves), tuple(parts), len(parts))
    box = cam.region_box(heat, rules.region_rel)
    return _Unit(cid, name, frozenset(int(c) for c in leaves), (box,), 1)


# --- visible text ---------------------------------------------------------------------


def _readable_lines(lines: Sequence[OcrLine], rules: CaptionRules) -> list[tuple[int, str, Box]]:
    """``(index, cleaned text, box)`` of the OCR lines worth quoting, in reading order."""
    kept = []
    for index, line in enumerate(lines):
        if hasattr(line, "text") and hasattr(line, "box"):
            text, box, score = line.text, line.box, getattr(line, "score", 0.0)
        else:
            text, box, score = line
        if not (float(score) >= rules.text_min_score):  # also drops NaN
            continue
        clean = clean_text(str(text), rules.text_max_chars)
        fractions = tuple(min(max(float(v), 0.0), 1.0) for v in box)
        if (
            clean
            and len(fractions) == 4
            and fractions[2] > fractions[0]
            and fractions[3] > fractions[1]
        ):
            kept.append((index, clean, fractions))
    kept.sort(key=lambda k: (round(k[2][1], 2), k[2][0], k[0]))
    return kept[: rules.text_max_lines]  # type: ignore[return-value]


readable_lines = _readable_lines  # shared with glassbox.explain.object_caption


def quote_lines(out: _Builder, lines: Sequence[tuple[int, str, Box]]) -> None:
    """The read lines quoted in reading order, each a ``text`` phrase with its box:
    '"A", "B" and "C"'."""
    for k, (index, text, box) in enumerate(lines):
        if k:
            out.plain(" and " if k == len(lines) - 1 else ", ")
        out.plain('"')
        out.phrase(text, "text", Evidence((box,), (), index))
        out.plain('"')


# --- writing --------------------------------------------------------------------------


def _noun_phrase(out: _Builder, unit: _Unit) -> None:
    about = (unit.concept_id,)
    if unit.count > 1:
        out.phrase(NUMBER_WORDS[unit.count], "count", Evidence(unit.boxes, about))
        out.plain(" ")
        out.phrase(plural(unit.name), "concept", Evidence(unit.boxes, about))
    else:
        out.plain(article(unit.name) + " ")
        out.phrase(unit.name, "concept", Evidence(unit.boxes, about))


class _Builder:
    """Appends text, recording each phrase's offsets; labels are sliced from the result."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[tuple[int, int, str, Evidence]] = []

    def plain(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def phrase(self, text: str, kind: str, evidence: Evidence) -> None:
        if kind not in KINDS or not evidence.boxes or not text:
            raise ValueError(f"a {kind} phrase needs text and at least one box")
        self.spans.append((self.length, self.length + len(text), kind, evidence))
        self.plain(text)

    def caption(self) -> Caption:
        text = "".join(self.parts)
        text = text[:1].upper() + text[1:]  # one character, so no offset moves
        phrases = [Phrase(s, e, kind, text[s:e], ev) for s, e, kind, ev in self.spans]
        return Caption(text, phrases)
