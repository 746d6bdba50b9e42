"""What makes an item *flagged* for the search filter: the NSFW detector's explicit labels.

An item is flagged when the detector found an exposed intimate body part at or above the
reporting threshold (``GLASSBOX_NSFW_THRESHOLD``). Exposed feet, armpits or belly, and every
covered label, are reported as evidence but do not flag. The flag is a search filter (the
web's ``media.indexing``); the detections themselves (label, box, score) are its
explanation. The review queue's flags come from the policies (``glassbox.moderation.flags``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FLAGGING_LABELS = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


def flagging(detections: Iterable[Mapping[str, Any]], threshold: float) -> list[Mapping[str, Any]]:
    """The stored detections (``{"label", "box", "score"}``) that flag the item."""
    return [
        d
        for d in detections
        if str(d.get("label")) in FLAGGING_LABELS and float(d.get("score", 0.0)) >= threshold
    ]


def is_flagged(detections: Iterable[Mapping[str, Any]], threshold: float) -> bool:
    return bool(flagging(detections, threshold))
