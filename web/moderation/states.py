"""The flag's state machine, as pure code: which action moves a flag from which state to
which, and who may take it. No Django; ``moderation.actions`` asks it before every change.

States (``Flag.State`` uses the same strings)::

    pending ──claim──> claimed ──release──> pending
       │  └────────────┬─┘
       │ confirm / dismiss / escalate (from pending or claimed)
       v               v
    confirmed      dismissed          escalated ──confirm / dismiss (an admin)──> ...
       │ appeal (the owner, once)
       v
    appealed ──uphold──> upheld
             └─reinstate──> reinstated

A claim is a lock beside the state: claiming a pending flag makes it ``claimed``; an escalated
or appealed flag can be claimed too, and keeps its state. ``close`` is the system's: a flag
still open (pending, claimed, escalated) that a re-analysis no longer raises is dismissed
with no decider; ``reopen`` brings such a flag back when a later analysis raises it again.

Roles: ``moderator``; ``admin`` (a superuser, who holds every role, so may do what a
moderator does); ``owner`` (the item's owner); ``system`` (the analysis). The guards that
need more than the state and the role (whose claim it is, how old it is, who confirmed the
flag an appeal is about) are checked in ``moderation.actions``.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING = "pending"
CLAIMED = "claimed"
ESCALATED = "escalated"
CONFIRMED = "confirmed"
DISMISSED = "dismissed"
APPEALED = "appealed"
UPHELD = "upheld"
REINSTATED = "reinstated"
STATES = (PENDING, CLAIMED, ESCALATED, CONFIRMED, DISMISSED, APPEALED, UPHELD, REINSTATED)

# waiting for a moderator (the queue)
OPEN = frozenset({PENDING, CLAIMED, ESCALATED, APPEALED})
# a confirmation that stands: the policy's action applies (an appeal does not suspend it)
ENFORCED = frozenset({CONFIRMED, APPEALED, UPHELD})
# not yet reviewed by anyone (an item over the hide threshold stays hidden meanwhile)
UNREVIEWED = frozenset({PENDING, CLAIMED, ESCALATED})
# the flag no longer counts against the item
CLEARED = frozenset({DISMISSED, REINSTATED})

MODERATOR = "moderator"
ADMIN = "admin"
OWNER = "owner"
SYSTEM = "system"
ROLES = (MODERATOR, ADMIN, OWNER, SYSTEM)

CLAIM = "claim"
RELEASE = "release"
CONFIRM = "confirm"
DISMISS = "dismiss"
ESCALATE = "escalate"
APPEAL = "appeal"
UPHOLD = "uphold"
REINSTATE = "reinstate"
CLOSE = "close"
REOPEN = "reopen"
ACTIONS = (CLAIM, RELEASE, CONFIRM, DISMISS, ESCALATE, APPEAL, UPHOLD, REINSTATE, CLOSE, REOPEN)

# decisions a moderator gives (``actions.decide``): on a first review, and on an appeal
FIRST_DECISIONS = (CONFIRM, DISMISS)
APPEAL_DECISIONS = (UPHOLD, REINSTATE)
DECISIONS = (*FIRST_DECISIONS, *APPEAL_DECISIONS)

_REVIEWERS = frozenset({MODERATOR, ADMIN})
_ADMINS = frozenset({ADMIN})

# (action, from state) -> (to state, roles that may take it)
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    (CLAIM, PENDING): (CLAIMED, _REVIEWERS),
    (CLAIM, CLAIMED): (CLAIMED, _REVIEWERS),  # one's own again, or a stale claim taken over
    (CLAIM, ESCALATED): (ESCALATED, _ADMINS),
    (CLAIM, APPEALED): (APPEALED, _REVIEWERS),
    (RELEASE, CLAIMED): (PENDING, _REVIEWERS),
    (RELEASE, ESCALATED): (ESCALATED, _ADMINS),
    (RELEASE, APPEALED): (APPEALED, _REVIEWERS),
    (CONFIRM, PENDING): (CONFIRMED, _REVIEWERS),
    (CONFIRM, CLAIMED): (CONFIRMED, _REVIEWERS),
    (CONFIRM, ESCALATED): (CONFIRMED, _ADMINS),
    (DISMISS, PENDING): (DISMISSED, _REVIEWERS),
    (DISMISS, CLAIMED): (DISMISSED, _REVIEWERS),
    (DISMISS, ESCALATED): (DISMISSED, _ADMINS),
    (ESCALATE, PENDING): (ESCALATED, _REVIEWERS),
    (ESCALATE, CLAIMED): (ESCALATED, _REVIEWERS),
    (APPEAL, CONFIRMED): (APPEALED, frozenset({OWNER})),
    (UPHOLD, APPEALED): (UPHELD, _REVIEWERS),
    (REINSTATE, APPEALED): (REINSTATED, _REVIEWERS),
    (CLOSE, PENDING): (DISMISSED, frozenset({SYSTEM})),
    (CLOSE, CLAIMED): (DISMISSED, frozenset({SYSTEM})),
    (CLOSE, ESCALATED): (DISMISSED, frozenset({SYSTEM})),
    (REOPEN, DISMISSED): (PENDING, frozenset({SYSTEM})),
}


class Refused(Exception):
    """The action is not allowed: ``wrong_state`` (not from this state: a conflict) or
    ``wrong_role`` (allowed from this state, but not to these roles: forbidden)."""

    def __init__(self, kind: str, action: str, state: str, roles: frozenset[str]) -> None:
        self.kind, self.action, self.state, self.roles = kind, action, state, roles
        if kind == "wrong_state":
            message = f"a flag that is {state} cannot be given '{action}'"
        else:
            allowed = ", ".join(sorted(TRANSITIONS[(action, state)][1]))
            message = f"'{action}' on a {state} flag is for: {allowed}"
        super().__init__(message)

    @property
    def conflict(self) -> bool:
        return self.kind == "wrong_state"


@dataclass(frozen=True)
class Move:
    action: str
    before: str
    after: str


def allowed_from(state: str) -> tuple[str, ...]:
    """The actions that can be taken on a flag in ``state`` (by someone)."""
    return tuple(a for a in ACTIONS if (a, state) in TRANSITIONS)


def transition(state: str, action: str, roles: frozenset[str] | set[str] | tuple[str, ...]) -> Move:
    """The move ``action`` makes from ``state`` for someone holding ``roles``; raises
    ``Refused``. An unknown state or action is a programming error (``ValueError``)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    held = frozenset(roles)
    unknown = held - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    entry = TRANSITIONS.get((action, state))
    if entry is None:
        raise Refused("wrong_state", action, state, held)
    after, allowed = entry
    if not held & allowed:
        raise Refused("wrong_role", action, state, held)
    return Move(action, state, after)
