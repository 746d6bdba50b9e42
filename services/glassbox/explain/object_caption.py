"""Grounded captions from detected objects: counts, colours and layout, every phrase with its
boxes ("A dog in front of a red bicycle, with a car and a truck.").

When the object detector found something, the caption is built from its classes
(``glassbox.detection.objects.ObjectEvidence``) rather than from the classifier's maps,
because boxes separate instances (counts) and place things (left of, in front of) far
better than a 7x7 map does. Rules:

1. **Which objects.** The classes in order of salience (the best box's score times its
   area, so a large, sure object leads), at most ``max_objects`` (3).
2. **Counts**: one box, "a dog"; two to five, "two dogs"; more, or a crowd, "many people".
   The count phrase's evidence is every box of the class.
3. **Colour**: a single object is called by its colour when the colour is clear
   (``glassbox.detection.colour``: a dominant share, more common in the box than around it,
   and an image in colour): "a red bicycle"; the colour phrase's evidence is the box.
4. **Layout** between the first two objects: "in front of" / "behind" when the detector's
   depth rule says so, else "on the left of" / "above" ... when their boxes are separate
   (``glassbox.explain.regions.relation``), else "and". "Above" and "below" need one of the
   two to be a thing seen in the air or high up (:data:`ELEVATED`); between two things on the
   ground, the one higher in the frame is "behind". Further objects follow after ", with".
5. **Read text** is quoted as in ``glassbox.explain.caption``.

Without detections the classifier's caption (``compose_caption``) is used unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from glassbox.detection.colour import RegionColour
from glassbox.detection.english import plural
from glassbox.detection.objects import ObjectEvidence
from glassbox.explain.caption import RULES as CAPTION_RULES
from glassbox.explain.caption import (
    Caption,
    CaptionRules,
    Evidence,
    OcrLine,
    _Builder,
    quote_lines,
    readable_lines,
)
from glassbox.explain.english import NUMBER_WORDS, article
from glassbox.explain.regions import area, relation


@dataclass(frozen=True, kw_only=True)
class ObjectCaptionRules:
    max_objects: int = 3
    max_count: int = 5  # spelt out up to here; more is "many"
    position_gap: float = 0.15
    overlap_max: float = 0.3


RULES = ObjectCaptionRules()

# COCO classes seen up in the air or high on a wall: "above" and "below" are said only when one
# of the two is one of them ("Two kites above four people"). Other things stand on the ground
# (or on one table), where higher in the frame means farther away: "Three people in front of a
# car", not "below" it.
ELEVATED = frozenset(
    {
        "airplane",
        "bird",
        "kite",
        "frisbee",
        "sports ball",
        "traffic light",
        "stop sign",
        "clock",
        "umbrella",
        "tv",
    }
)


def compose_object_caption(
    objects: Sequence[ObjectEvidence],
    colours: Mapping[int, RegionColour] | None = None,
    text_lines: Sequence[OcrLine] = (),
    *,
    rules: ObjectCaptionRules = RULES,
    caption_rules: CaptionRules = CAPTION_RULES,
) -> Caption | None:
    """The caption of an image from its detected objects (rules in the module docstring), or
    ``None`` when there is no object to name."""
    chosen = sorted(objects, key=lambda o: -o.score * area(o.box))[: rules.max_objects]
    if not chosen:
        return None
    colours = colours or {}
    out = _Builder()
    _noun_phrase(out, chosen[0], colours, rules)
    if len(chosen) > 1:
        a, b = chosen[0], chosen[1]
        between = _layout(a, b, rules)
        if between is None:
            out.plain(" and ")
        else:
            out.plain(" ")
            out.phrase(between, "position", Evidence((a.box, b.box), _about(a) + _about(b)))
            out.plain(" ")
        _noun_phrase(out, b, colours, rules)
    rest = chosen[2:]
    if rest:
        out.plain(", with ")
        for k, o in enumerate(rest):
            if k:
                out.plain(" and ")
            _noun_phrase(out, o, colours, rules)
    lines = readable_lines(text_lines, caption_rules)
    if lines:
        out.plain(" and the text " if rest else " with the text ")
    quote_lines(out, lines)
    out.plain(".")
    return out.caption()


def _about(o: ObjectEvidence) -> tuple[int, ...]:
    return () if o.concept_id is None else (int(o.concept_id),)


def _layout(a: ObjectEvidence, b: ObjectEvidence, rules: ObjectCaptionRules) -> str | None:
    """Where ``a`` is with respect to ``b``: depth first (the detector's rule), then the
    plane."""
    if b.name in a.in_front_of:
        return "in front of"
    if b.name in a.behind:
        return "behind"
    where = relation(a.box, b.box, rules.overlap_max, rules.position_gap)
    if where in ("above", "below") and not ({a.name, b.name} & ELEVATED):
        # two things standing on the ground: higher in the frame is farther away
        return "behind" if where == "above" else "in front of"
    return where


def _noun_phrase(
    out: _Builder,
    o: ObjectEvidence,
    colours: Mapping[int, RegionColour],
    rules: ObjectCaptionRules,
) -> None:
    about = _about(o)
    if o.count > 1:
        word = "many" if o.crowd or o.count > rules.max_count else NUMBER_WORDS[o.count]
        out.phrase(word, "count", Evidence(o.boxes, about))
        out.plain(" ")
        out.phrase(plural(o.name), "concept", Evidence(o.boxes, about))
        return
    colour = colours.get(o.class_id)
    name = colour.name if colour is not None else None
    if name:
        out.plain(article(name) + " ")
        out.phrase(name, "colour", Evidence((o.box,), about))
        out.plain(" ")
    else:
        out.plain(article(o.name) + " ")
    out.phrase(o.name, "concept", Evidence((o.box,), about))
