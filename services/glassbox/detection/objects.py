"""From the object detector's raw boxes to evidence: which objects, how many, where, and why.

:func:`object_evidence` takes raw detections ``(class id, box, score)`` — COCO ids in the 90-id
numbering (``coco_labels.COCO_LABELS``), boxes ``(x0, y0, x1, y1)`` as fractions of width and
height — and returns one :class:`ObjectEvidence` per class found, most confident first::

    person 99%: detected in the box on the left, and 2 more people.
    dog 98%: detected in the box on the left, in front of the bicycle.
    person 97%: many people (15 detected, the 12 most confident shown); the most confident
    in the box in the centre.

Rules (numbers in :class:`ObjectRules`, reasons in docs/decisions.md, "Issue 11"):

1. **Calibrated thresholds.** A box counts when its score reaches its class's threshold:
   ``DEFAULT_THRESHOLD`` (0.5), stricter where the detector is known to be wrong
   (:data:`THRESHOLDS`, each with its reason). Unknown ids, NaN scores, empty boxes go.
2. **Tiny boxes** go: area under ``min_area`` (0.05% of the image), or, given the image's
   size in pixels, a side under ``min_side_px`` (12 px): too small to show or to trust.
3. **Duplicates:** of two boxes of one class overlapping with IoU over ``nms_iou`` (0.6),
   the more confident is kept (greedy non-maximum suppression). **One name per object:** a
   box over ``rival_iou`` (0.7) with a more confident box of a class it is confused with
   (:data:`RIVALS`: car/truck on dog.jpg's pickup) is that object's second reading: dropped,
   and named in the winner's text ("also scored as truck 57%").
4. **Counts and crowds:** every kept box counts; at most ``max_shown`` (12) per class are
   carried as evidence (the best ``box`` and the ``others``); over ``crowd`` (10) the text
   says "many people" rather than a number.
5. **Position** of the best box by its centre: "on the left" / "in the centre" / "on the
   right" (thirds of the width). **Depth** between the best boxes of two classes, only when
   they overlap (at least ``depth_overlap`` of the smaller box) without one lying inside the
   other (``depth_inside``): the box whose bottom edge is lower by ``depth_gap`` stands
   nearer (objects on one floor), unless it is under ``depth_min_ratio`` of the other's
   area; with the bottoms level, a box ``depth_size_ratio`` times larger is nearer. Else no
   claim: a part without evidence is never written.

``concept_for`` (``glassbox.detection.wordnet``) gives each class its concept of the bank;
the English of the 80 class names is ``glassbox.detection.english``. Stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from glassbox.concepts import ConceptBank
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.detection.english import CROWD, count_phrase, plural
from glassbox.detection.wordnet import concept_for
from glassbox.evidence_types import Box

DEFAULT_THRESHOLD = 0.5
# class -> (threshold, why): raised only where the detector was seen wrong, or (marked) where
# the class is known to be confusable; docs/decisions.md, "Issue 11", has the table.
THRESHOLDS: dict[str, tuple[float, str]] = {
    "cake": (0.6, "seen: calls Munch's Scream (darknet's scream.jpg) cake 0.52"),
    "cow": (0.6, "seen: a spurious cow 0.56 among the horses of darknet's horses.jpg"),
    "dining table": (0.65, "precaution: a surface, scored on any flat one; loose COCO boxes"),
    "bed": (0.6, "precaution: confusable with couches and large soft surfaces"),
    "couch": (0.6, "precaution: confusable with beds, benches and car seats"),
    # From the judged sets of glassbox.evaluation (eval_data/boxes.json, "detector"): a class's
    # false positives there, raised to the next 0.05 above the highest where no true positive
    # of the class scored lower (bird, book and person could not be: section 6 of the report)
    "giraffe": (0.6, "seen: giraffe.jpg's zebra also read as a giraffe 0.58 (the giraffe 0.97)"),
    "orange": (0.75, "seen: fruits.jpg's lemon 0.71 and lime 0.67 (the oranges 0.88, 0.98)"),
    "tie": (0.9, "seen: a mandrill's nose 0.72 (baboon.jpg), a notebook's band 0.89; no true tie"),
    "vase": (0.8, "seen: the aloe's flowerpot 0.76 (opencv-doc's aloeL.jpg); no true vase"),
    "mouse": (0.55, "seen: the astronaut's helmet 0.50 (scikit-image); no true mouse"),
    "clock": (0.6, "seen: coins read as clocks 0.59, 0.54 (scikit-image's coins); no true clock"),
    "bowl": (0.9, "seen: coffee.png's cup also read as a bowl 0.87, a coin 0.56; no true bowl"),
}
# classes the detector gives one object under two names (seen: car/truck, dog/cat, giraffe/zebra)
RIVALS: tuple[frozenset[str], ...] = (
    frozenset({"car", "truck", "bus", "train"}),
    frozenset({"bicycle", "motorcycle"}),
    frozenset({"dog", "cat", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}),
    frozenset({"chair", "couch", "bench", "bed"}),
)


def threshold_for(class_id: int) -> float:
    """The score a box of COCO class ``class_id`` needs to count."""
    name = COCO_LABELS.get(int(class_id))
    return THRESHOLDS[name][0] if name in THRESHOLDS else DEFAULT_THRESHOLD


@dataclass(frozen=True, kw_only=True)
class ObjectRules:
    min_area: float = 0.0005  # of the image (0.2% dropped kite.jpg's people on the beach)
    min_side_px: float = 12.0
    nms_iou: float = 0.6
    rival_iou: float = 0.7  # one object under two confusable classes
    max_shown: int = 12
    crowd: int = CROWD  # over this many: "many people"
    depth_overlap: float = 0.05  # of the smaller box: they must overlap to be in depth
    depth_inside: float = 0.9  # a box this much inside the other: held, worn, on it
    depth_gap: float = 0.05  # bottom edges this far apart (fraction of the height)
    depth_min_ratio: float = 0.25  # a lower box this much smaller makes no claim
    depth_size_ratio: float = 2.0  # bottoms level: this many times larger is nearer


RULES = ObjectRules()


@dataclass(frozen=True)
class ObjectEvidence:
    """One COCO class found in an image, with its evidence."""

    class_id: int
    name: str
    concept_id: int | None  # the bank's concept (wordnet.concept_for); None without a bank
    score: float  # of the best box
    box: Box  # the best box
    count: int  # every kept box of the class
    others: tuple[Box, ...] = ()  # the next best boxes, at most max_shown - 1
    position: str = "centre"  # "left" | "centre" | "right", of the best box
    in_front_of: tuple[str, ...] = ()  # names of the classes whose best box is behind it
    behind: tuple[str, ...] = ()
    crowd: bool = False  # count over the crowd threshold
    also: tuple[tuple[str, float], ...] = ()  # rival readings of the best box: (name, score)
    justification: str = ""
    scores: tuple[float, ...] = field(default=(), repr=False)  # of box, then of others

    @property
    def boxes(self) -> tuple[Box, ...]:
        return (self.box, *self.others)

    def as_dict(self) -> dict[str, Any]:
        return {
            "class_id": self.class_id,
            "name": self.name,
            "concept_id": self.concept_id,
            "score": round(self.score, 4),
            "scores": [round(float(v), 4) for v in self.scores],
            "boxes": [[round(float(v), 4) for v in b] for b in self.boxes],
            "count": self.count,
            "position": self.position,
            "in_front_of": list(self.in_front_of),
            "behind": list(self.behind),
            "crowd": self.crowd,
            "also": [[n, round(v, 4)] for n, v in self.also],
            "justification": self.justification,
        }


def object_evidence(
    detections: Iterable[Any],
    bank: ConceptBank | None = None,
    *,
    size: tuple[int, int] | None = None,
    rules: ObjectRules = RULES,
    thresholds: Mapping[int, float] | None = None,
) -> list[ObjectEvidence]:
    """The evidence of every class found (rules in the module docstring), most confident
    first. ``detections`` are ``(class_id, box, score)`` tuples or objects with those
    attributes (``glassbox.evidence_types.ObjectDetection``, boxes as fractions); ``size`` is
    the image's ``(width, height)`` in pixels (for the smallest side); ``thresholds``
    overrides :func:`threshold_for` per class id."""
    by_class: dict[int, list[tuple[float, Box]]] = {}
    for class_id, box, score in (_parse(d) for d in detections):
        if class_id not in COCO_LABELS or not math.isfinite(score) or box is None:
            continue
        needed = thresholds.get(class_id) if thresholds else None
        if score < (threshold_for(class_id) if needed is None else needed):
            continue
        if _tiny(box, size, rules):
            continue
        by_class.setdefault(class_id, []).append((score, box))
    kept = {c: suppress(found, rules.nms_iou) for c, found in by_class.items()}
    kept, also = _one_name_per_object(kept, rules.rival_iou)
    order = sorted(kept, key=lambda c: (-kept[c][0][0], c))
    best = {c: kept[c][0][1] for c in order}
    out = []
    for c in order:
        name = COCO_LABELS[c]
        shown = kept[c][: rules.max_shown]
        front = tuple(COCO_LABELS[o] for o in order if o != c and depth(best[c], best[o], rules))
        back = tuple(COCO_LABELS[o] for o in order if o != c and depth(best[o], best[c], rules))
        ev = ObjectEvidence(
            class_id=c,
            name=name,
            concept_id=None if bank is None else concept_for(c, bank),
            score=shown[0][0],
            box=shown[0][1],
            count=len(kept[c]),
            others=tuple(b for _, b in shown[1:]),
            position=horizontal_position(shown[0][1]),
            in_front_of=front,
            behind=back,
            crowd=len(kept[c]) > rules.crowd,
            also=tuple(also.get((c, shown[0][1]), ())),
            scores=tuple(s for s, _ in shown),
        )
        out.append(_with_text(ev, rules))
    return out


def suppress(found: Iterable[tuple[float, Box]], max_iou: float) -> list[tuple[float, Box]]:
    """Greedy non-maximum suppression: ``(score, box)`` pairs, best first, each dropped when
    it overlaps a kept one with IoU over ``max_iou``."""
    kept: list[tuple[float, Box]] = []
    for score, box in sorted(found, key=lambda sb: -sb[0]):
        if all(iou(box, other) <= max_iou for _, other in kept):
            kept.append((score, box))
    return kept


def _one_name_per_object(
    kept: dict[int, list[tuple[float, Box]]], max_iou: float
) -> tuple[dict[int, list[tuple[float, Box]]], dict[tuple[int, Box], list[tuple[str, float]]]]:
    """Rule 3's second half: boxes, best first, each dropped when it is over ``max_iou`` with
    a kept box of a rival class; ``also`` maps a kept ``(class, box)`` to the readings dropped."""
    ranked = sorted(((s, b, c) for c, found in kept.items() for s, b in found), key=lambda t: -t[0])
    winners: dict[int, list[tuple[float, Box]]] = {}
    also: dict[tuple[int, Box], list[tuple[str, float]]] = {}
    for score, box, c in ranked:
        name = COCO_LABELS[c]
        rival = next(
            (
                (o, other)
                for o, found in winners.items()
                for _, other in found
                if o != c
                and any(name in g and COCO_LABELS[o] in g for g in RIVALS)
                and iou(box, other) > max_iou
            ),
            None,
        )
        if rival is None:
            winners.setdefault(c, []).append((score, box))
        elif name not in (n for n, _ in also.get(rival, [])):
            also.setdefault(rival, []).append((name, score))
    return winners, also


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    inter = _area(_intersection(a, b))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def horizontal_position(box: Box) -> str:
    """ "left", "centre" or "right": the third of the width holding the box's centre."""
    centre = (box[0] + box[2]) / 2
    return "left" if centre < 1 / 3 else "right" if centre > 2 / 3 else "centre"


def depth(a: Box, b: Box, rules: ObjectRules = RULES) -> bool:
    """Whether box ``a`` stands in front of box ``b`` (rule 5 of the module docstring)."""
    smaller = min(_area(a), _area(b))
    if smaller <= 0:
        return False
    shared = _area(_intersection(a, b)) / smaller
    if shared < rules.depth_overlap or shared >= rules.depth_inside:
        return False
    ratio = _area(a) / _area(b)
    lower = a[3] - b[3]
    if lower >= rules.depth_gap:
        return ratio >= rules.depth_min_ratio
    return abs(lower) < rules.depth_gap and ratio >= rules.depth_size_ratio


def _with_text(ev: ObjectEvidence, rules: ObjectRules) -> ObjectEvidence:
    where = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
    place = f"the box {where[ev.position]}"
    depth_words = [f"in front of the {n}" for n in ev.in_front_of]
    depth_words += [f"behind the {n}" for n in ev.behind]
    head = f"{ev.name} {ev.score:.0%}: "
    if ev.crowd:
        shown = f", the {len(ev.boxes)} most confident shown" if len(ev.boxes) < ev.count else ""
        text = (
            f"{head}{count_phrase(ev.name, ev.count, rules.crowd)} ({ev.count} detected{shown}); "
        )
        text += f"the most confident in {place}"
    else:
        text = f"{head}detected in {place}"
    text += "".join(f", {w}" for w in depth_words)
    if not ev.crowd and ev.count > 1:
        more = ev.count - 1
        text += f", and {more} more {ev.name if more == 1 else plural(ev.name)}"
    if ev.also:
        text += " (also scored as " + ", ".join(f"{n} {v:.0%}" for n, v in ev.also) + ")"
    return replace(ev, justification=text + ".")


def _parse(d: Any) -> tuple[int, Box | None, float]:
    if hasattr(d, "class_id"):
        class_id, box, score = d.class_id, d.box, d.score
    else:
        class_id, box, score = d
    try:
        class_id, score, values = int(class_id), float(score), [float(v) for v in box]
    except (TypeError, ValueError, OverflowError):
        return -1, None, math.nan
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return -1, None, math.nan
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in values)
    if x1 <= x0 or y1 <= y0:
        return class_id, None, score
    return class_id, (x0, y0, x1, y1), score


def _tiny(box: Box, size: tuple[int, int] | None, rules: ObjectRules) -> bool:
    if _area(box) < rules.min_area:
        return True
    if size is None:
        return False
    width, height = size
    return min((box[2] - box[0]) * width, (box[3] - box[1]) * height) < rules.min_side_px


def _intersection(a: Box, b: Box) -> Box:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
