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

Articles follow the pronunciation of the first word ("an Eskimo dog", "a unicycle",
"an hour"), plurals follow the usual English rules plus a few irregular nouns. Phrase labels
are exactly ``text[start:end]``; the concept's bank name is in its evidence's concept id.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from glassbox import cam
from glassbox.cam import Box

NO_CAPTION = "No confident description."
KINDS = ("concept", "text", "count", "position")

# Longest side of the grid a region is measured on (the pipeline's tag boxes use the same).
_GRID = 112
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}

# An OCR line: ``(text, box, score)``, or any object with those attributes (such as
# ``glassbox.evidence_types.TextLine``); the box in fractions of width and height.
OcrLine = Any


class Bank(Protocol):
    names: Sequence[str]
    members: np.ndarray  # bool [n_broader, n_leaves]

    @property
    def n_leaves(self) -> int: ...


@dataclass(frozen=True)
class CaptionRules:
    leaf_confident: float = 0.5
    group_mass: float = 0.6
    second_leaf: float = 0.25
    second_group: float = 0.3
    max_group_leaves: int = 130
    max_concepts: int = 2
    position_gap: float = 0.15
    overlap_max: float = 0.3
    region_rel: float = 0.5
    count_low: float = 0.35
    count_high: float = 0.7
    max_count: int = 5
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
    kind: str  # "concept" | "text" | "count" | "position"
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
        return _union(self.boxes)


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
    grid = _grid(aspect)
    units = _main_concepts(concepts, bank, regions, grid, rules)
    lines = _readable_lines(text_lines, rules)
    if not units and not lines:
        return Caption(NO_CAPTION, [])

    out = _Builder()
    if units:
        _noun_phrase(out, units[0])
        if len(units) > 1:
            a, b = units[0], units[1]
            relation = _relation(a.extent, b.extent, rules)
            if relation is None:
                out.plain(" and ")
            else:
                out.plain(" ")
                out.phrase(
                    relation,
                    "position",
                    Evidence((a.extent, b.extent), (a.concept_id, b.concept_id)),
                )
                out.plain(" ")
            _noun_phrase(out, b)
        if lines:
            out.plain(" with the text ")
    else:
        out.plain("The text ")
    for k, (index, text, box) in enumerate(lines):
        if k:
            out.plain(" and " if k == len(lines) - 1 else ", ")
        out.plain('"')
        out.phrase(text, "text", Evidence((box,), (), index))
        out.plain('"')
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
    if 2 <= len(parts) <= min(rules.max_count, max(_NUMBERS)):
        return _Unit(cid, name, frozenset(int(c) for c in leaves), tuple(parts), len(parts))
    box = cam.region_box(heat, rules.region_rel)
    return _Unit(cid, name, frozenset(int(c) for c in leaves), (box,), 1)


# --- counting -------------------------------------------------------------------------


def separate_regions(
    heat: np.ndarray, low: float = 0.35, high: float = 0.7, rel: float = 0.5
) -> list[Box]:
    """Boxes of the clearly separate hot regions of a map, largest first.

    A region is a 4-connected component of ``heat >= low * peak`` that reaches
    ``high * peak`` somewhere; its box bounds its pixels at ``rel * peak`` or above.
    Regions that merge above ``low`` count as one.
    """
    heat = np.asarray(heat, dtype=np.float64)
    peak = float(heat.max()) if heat.size else 0.0
    if peak <= 0:
        return []
    labels, n = _label(heat >= low * peak)
    h, w = heat.shape
    found = []
    for k in range(1, n + 1):
        part = labels == k
        if heat[part].max() < high * peak:
            continue
        ys, xs = np.nonzero(part & (heat >= rel * peak))
        box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
        found.append((int(part.sum()), box))
    found.sort(key=lambda f: -f[0])
    return [tuple(float(v) for v in box) for _, box in found]  # type: ignore[misc]


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labels of a boolean mask (1..n; 0 is background).

    Horizontal runs are labelled row by row and runs that overlap a run in the row above are
    united, so the Python loop is over runs, not pixels (as in ``glassbox.cam``).
    """
    runs: list[tuple[int, int, int]] = []  # (row, start, end exclusive)
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    for row in range(mask.shape[0]):
        edges = np.diff(np.concatenate(([0], mask[row].astype(np.int8), [0])))
        current = []
        for start, end in zip(
            np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True
        ):
            idx = len(runs)
            runs.append((row, start, end))
            parent.append(idx)
            for other in previous:
                if runs[other][1] < end and start < runs[other][2]:
                    parent[find(idx)] = find(other)
            current.append(idx)
        previous = current
    labels = np.zeros(mask.shape, dtype=np.int32)
    numbers: dict[int, int] = {}
    for idx, (row, start, end) in enumerate(runs):
        labels[row, start:end] = numbers.setdefault(find(idx), len(numbers) + 1)
    return labels, len(numbers)


# --- positions ------------------------------------------------------------------------


def _relation(a: Box, b: Box, rules: CaptionRules) -> str | None:
    """Where box ``a`` lies relative to box ``b``, when they are clearly apart."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    smaller = min(_area(a), _area(b))
    if smaller <= 0 or inter > rules.overlap_max * smaller:
        return None
    dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
    dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
    if abs(dx) >= abs(dy):
        if abs(dx) < rules.position_gap:
            return None
        return "on the left of" if dx < 0 else "on the right of"
    if abs(dy) < rules.position_gap:
        return None
    return "above" if dy < 0 else "below"


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _union(boxes: Sequence[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


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
        clean = _clean_text(str(text), rules.text_max_chars)
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


def _clean_text(text: str, limit: int) -> str:
    text = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text
    )  # controls, format characters, separators of every kind -> space
    text = " ".join(text.replace('"', "'").split())
    if len(text) > limit:
        cut = text[: limit - 1]
        if " " in cut[limit // 2 :]:  # prefer a word boundary in the second half
            cut = cut[: cut.rfind(" ")]
        text = cut.rstrip() + "…"
    return text


# --- words ----------------------------------------------------------------------------


def article(noun: str) -> str:
    """ "a" or "an", by how ``noun`` is pronounced (a heuristic covering common cases)."""
    word = noun.strip().split(" ")[0] if noun.strip() else ""
    low = word.lower()
    if not low:
        return "a"
    if re.match(r"(hour|honest|honou?r|heir)", low):
        return "an"
    if re.match(r"(uni|use|usu|ura|uro|uti|ute|eu|ewe|one\b|once|ukul)", low):
        return "a"
    if word.isupper() and len(word) > 1:  # an acronym, read letter by letter: "an MP3 player"
        return "an" if low[0] in "aefhilmnorsx" else "a"
    return "an" if low[0] in "aeiou" else "a"


_IRREGULAR = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "foot": "feet",
    "tooth": "teeth",
    "goose": "geese",
    "mouse": "mice",
    "louse": "lice",
    "ox": "oxen",
    "sheep": "sheep",
    "deer": "deer",
    "fish": "fish",
    "bison": "bison",
    "moose": "moose",
    "swine": "swine",
    "aircraft": "aircraft",
    "species": "species",
    "cattle": "cattle",
    "wolf": "wolves",
    "knife": "knives",
    "leaf": "leaves",
    "shelf": "shelves",
    "loaf": "loaves",
    "calf": "calves",
    "half": "halves",
    "thief": "thieves",
}


def plural(noun: str) -> str:
    """The plural of a (possibly compound) noun: "dogs", "birds of prey", "foxes", "oxen"."""
    for joint in (" of ", " in ", " on "):
        if joint in noun:  # "bird of prey" -> "birds of prey"
            head, tail = noun.split(joint, 1)
            return plural(head) + joint + tail
    stem, _, last = noun.rpartition(" ")
    prefix = f"{stem} " if stem else ""
    low = last.lower()
    if low in _IRREGULAR:
        form = _IRREGULAR[low]
        return prefix + (form.capitalize() if last[:1].isupper() else form)
    if low.endswith(("fish", "sheep", "deer")):  # "goldfish", "bighorn sheep"
        return noun
    for ending, form in (("man", "men"), ("woman", "women")):
        if (
            low.endswith(ending)
            and len(low) > len(ending)
            and low not in ("human", "german", "roman")
        ):
            return prefix + last[: -len(ending)] + form
    if re.search(r"(s|x|z|ch|sh)$", low):
        return prefix + last + "es"
    if re.search(r"[^aeiou]y$", low):
        return prefix + last[:-1] + "ies"
    return prefix + last + "s"


# --- writing --------------------------------------------------------------------------


def _noun_phrase(out: _Builder, unit: _Unit) -> None:
    about = (unit.concept_id,)
    if unit.count > 1:
        out.phrase(_NUMBERS[unit.count], "count", Evidence(unit.boxes, about))
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


def _grid(aspect: tuple[int, int]) -> tuple[int, int]:
    """A grid with the image's aspect ratio and ``_GRID`` cells on its longer side."""
    height, width = aspect
    scale = _GRID / max(height, width, 1)
    return max(1, round(height * scale)), max(1, round(width * scale))
