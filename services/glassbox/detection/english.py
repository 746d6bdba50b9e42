"""The English of COCO's 80 class names: plurals and counts (stdlib only).

``glassbox.explain.english`` has the general rules, but this package sits below
``glassbox.explain`` in the import layers (the caption builder may use detections, not the
reverse), and 80 known names need only a short table: the irregular plurals ("people",
"knives", "mice"), the names that are already plural or uncountable ("skis", "scissors",
"sheep", "broccoli"), and the regular rule for the rest ("buses", "wine glasses"). Counts
are digits ("2 more people"), and a crowd is "many people".
"""

from __future__ import annotations

CROWD = 10  # over this many: "many people", not a number

_PLURALS = {
    "person": "people",
    "sheep": "sheep",
    "knife": "knives",
    "mouse": "mice",
    "skis": "skis",  # COCO's class is the pair
    "scissors": "scissors",
    "broccoli": "broccoli",
}


def plural(name: str) -> str:
    """The plural of a COCO class name: "people", "knives", "buses", "wine glasses"."""
    if name in _PLURALS:
        return _PLURALS[name]
    head, _, last = name.rpartition(" ")
    last += "es" if last.endswith(("s", "x", "z", "ch", "sh")) else "s"
    return f"{head} {last}" if head else last


def count_phrase(name: str, count: int, crowd: int = CROWD) -> str:
    """ "dog", "3 people" or, over ``crowd``, "many people"."""
    if count <= 1:
        return name
    return f"many {plural(name)}" if count > crowd else f"{count} {plural(name)}"
