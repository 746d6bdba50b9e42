"""What moderation does to who may see an item, in one place.

- An item with an unreviewed flag (pending, claimed, escalated) whose ``hide`` is set (its
  score reached the policy's hide threshold) is **hidden**: its owner only, until reviewed.
- A confirmed flag that stands (confirmed, appealed, upheld) applies its policy's action:
  ``remove`` (the item is **removed**: nobody but its owner sees it, and it is marked so) or
  ``restrict`` (**restricted** to its owner).
- Dismissed and reinstated flags have no effect.

Hidden, removed and restricted items drop out of everyone else's querysets
(``MediaItem.objects.visible_to``, through the rule :func:`install` gives it) and out of
search: their index row says ``is_public = false`` (:func:`index_fields`), and a change is
carried to the index by ``moderation.actions`` through the outbox in the decision's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q
from media.models import MediaItem, MediaQuerySet

from . import states
from .models import Flag

# flags that mark the item for the search filter "flagged": not cleared by a review
FLAGGED = frozenset(states.STATES) - states.CLEARED


@dataclass
class ItemModeration:
    under_review: bool = False  # a flag waits for a moderator (a first review or an appeal)
    hidden: bool = False  # owner only until reviewed
    removed: bool = False  # confirmed under a "remove" policy
    restricted: bool = False  # confirmed under a "restrict" policy
    flags: list[Flag] = field(default_factory=list)  # what its owner may see, strongest first

    @property
    def owner_only(self) -> bool:
        return self.hidden or self.removed or self.restricted

    def effects(self) -> dict[str, bool]:
        """The visibility effects, as an audit row records them."""
        return {"hidden": self.hidden, "removed": self.removed, "restricted": self.restricted}


def owner_only_filter() -> Q:
    """A condition on flags that makes their item owner-only."""
    return Q(state__in=sorted(states.UNREVIEWED), hide=True) | Q(state__in=sorted(states.ENFORCED))


def owner_only_items() -> Q:
    """A ``MediaItem`` filter: the items moderation shows to their owner only."""
    return Q(Exists(Flag.objects.filter(owner_only_filter(), item=OuterRef("pk"))))


def install() -> None:
    """Give the media querysets moderation's rule (``moderation.apps.ready``)."""
    MediaQuerySet.owner_only_rule = staticmethod(owner_only_items)


def state_for(item: MediaItem) -> ItemModeration:
    """Where ``item`` stands, and the flags its owner may see (not the dismissed ones)."""
    return of_flags(list(item.flags.all()))


def of_flags(flags: list[Flag]) -> ItemModeration:
    found = ItemModeration()
    for f in flags:
        found.under_review |= f.state in states.OPEN
        found.hidden |= f.state in states.UNREVIEWED and f.hide
        if f.state in states.ENFORCED:
            found.removed |= f.action == Flag.Action.REMOVE
            found.restricted |= f.action != Flag.Action.REMOVE
    found.flags = sorted(
        (f for f in flags if f.state != states.DISMISSED), key=lambda f: (-f.score, f.pk or 0)
    )
    return found


@dataclass(frozen=True)
class IndexFields:
    """What moderation puts into an item's index rows."""

    owner_only: bool  # is_public is false whatever the owner chose
    flagged: bool  # the item (row) has a flag no review cleared
    flagged_ranges: tuple[tuple[float, float], ...] = ()  # a video's flagged time ranges

    def shot_flagged(self, start_s: float, end_s: float) -> bool:
        """Whether a window of a video overlaps a flagged range (an image-wide flag on a
        video, with no range, covers every window)."""
        return any(a < end_s and start_s < b for a, b in self.flagged_ranges)


def index_fields(item: MediaItem) -> IndexFields:
    rows = list(item.flags.values_list("state", "hide", "start_s", "end_s"))
    owner_only = any(
        (state in states.UNREVIEWED and hide) or state in states.ENFORCED
        for state, hide, _s, _e in rows
    )
    flagged = [(s, e) for state, _h, s, e in rows if state in FLAGGED]
    ranges = tuple(
        (float(s), float(e)) if s is not None and e is not None else (float("-inf"), float("inf"))
        for s, e in flagged
    )
    return IndexFields(owner_only=owner_only, flagged=bool(flagged), flagged_ranges=ranges)
