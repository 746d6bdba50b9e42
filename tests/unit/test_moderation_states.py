"""The flag state machine (web/moderation/states.py, pure): every allowed transition gives
the expected state to exactly the expected roles, and every other (state, action, role)
combination is refused, as a conflict when the state does not allow the action at all, as
forbidden when it does but not for that role."""

from __future__ import annotations

import itertools

import pytest
from moderation import states
from moderation.states import (
    ADMIN,
    APPEAL,
    APPEALED,
    CLAIM,
    CLAIMED,
    CLOSE,
    CONFIRM,
    CONFIRMED,
    DISMISS,
    DISMISSED,
    ESCALATE,
    ESCALATED,
    MODERATOR,
    OWNER,
    PENDING,
    REINSTATE,
    REINSTATED,
    RELEASE,
    REOPEN,
    SYSTEM,
    UPHELD,
    UPHOLD,
)

REVIEWERS = {MODERATOR, ADMIN}

# The whole table, written out by hand: (action, from) -> (to, the roles that may take it).
EXPECTED = {
    (CLAIM, PENDING): (CLAIMED, REVIEWERS),
    (CLAIM, CLAIMED): (CLAIMED, REVIEWERS),
    (CLAIM, ESCALATED): (ESCALATED, {ADMIN}),
    (CLAIM, APPEALED): (APPEALED, REVIEWERS),
    (RELEASE, CLAIMED): (PENDING, REVIEWERS),
    (RELEASE, ESCALATED): (ESCALATED, {ADMIN}),
    (RELEASE, APPEALED): (APPEALED, REVIEWERS),
    (CONFIRM, PENDING): (CONFIRMED, REVIEWERS),
    (CONFIRM, CLAIMED): (CONFIRMED, REVIEWERS),
    (CONFIRM, ESCALATED): (CONFIRMED, {ADMIN}),
    (DISMISS, PENDING): (DISMISSED, REVIEWERS),
    (DISMISS, CLAIMED): (DISMISSED, REVIEWERS),
    (DISMISS, ESCALATED): (DISMISSED, {ADMIN}),
    (ESCALATE, PENDING): (ESCALATED, REVIEWERS),
    (ESCALATE, CLAIMED): (ESCALATED, REVIEWERS),
    (APPEAL, CONFIRMED): (APPEALED, {OWNER}),
    (UPHOLD, APPEALED): (UPHELD, REVIEWERS),
    (REINSTATE, APPEALED): (REINSTATED, REVIEWERS),
    (CLOSE, PENDING): (DISMISSED, {SYSTEM}),
    (CLOSE, CLAIMED): (DISMISSED, {SYSTEM}),
    (CLOSE, ESCALATED): (DISMISSED, {SYSTEM}),
    (REOPEN, DISMISSED): (PENDING, {SYSTEM}),
}

ALLOWED = [
    (action, before, role, after)
    for (action, before), (after, roles) in EXPECTED.items()
    for role in sorted(roles)
]
FORBIDDEN = [
    (action, before, role)
    for (action, before), (_after, roles) in EXPECTED.items()
    for role in sorted(set(states.ROLES) - roles)
]
WRONG_STATE = [
    (action, before, role)
    for action, before, role in itertools.product(states.ACTIONS, states.STATES, states.ROLES)
    if (action, before) not in EXPECTED
]


def test_the_table_covers_every_combination_once():
    total = len(states.ACTIONS) * len(states.STATES) * len(states.ROLES)
    assert len(ALLOWED) + len(FORBIDDEN) + len(WRONG_STATE) == total
    assert set(states.TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize(("action", "before", "role", "after"), ALLOWED)
def test_allowed_transition(action, before, role, after):
    move = states.transition(before, action, {role})
    assert (move.action, move.before, move.after) == (action, before, after)


@pytest.mark.parametrize(("action", "before", "role"), FORBIDDEN)
def test_refused_for_the_role(action, before, role):
    with pytest.raises(states.Refused) as refused:
        states.transition(before, action, {role})
    assert refused.value.kind == "wrong_role" and not refused.value.conflict
    assert action in str(refused.value) and before in str(refused.value)


@pytest.mark.parametrize(("action", "before", "role"), WRONG_STATE)
def test_refused_from_the_state(action, before, role):
    with pytest.raises(states.Refused) as refused:
        states.transition(before, action, {role})
    assert refused.value.kind == "wrong_state" and refused.value.conflict
    assert f"{before} cannot be given '{action}'" in str(refused.value)


def test_any_held_role_that_allows_the_move_is_enough():
    # a superuser holds moderator and admin: an escalated flag is theirs to decide
    assert states.transition(ESCALATED, CONFIRM, {MODERATOR, ADMIN}).after == CONFIRMED
    with pytest.raises(states.Refused):
        states.transition(ESCALATED, CONFIRM, {MODERATOR, OWNER})
    with pytest.raises(states.Refused):  # no role at all
        states.transition(PENDING, CLAIM, set())


@pytest.mark.parametrize(
    ("state", "action", "roles"),
    [("lost", CLAIM, {MODERATOR}), (PENDING, "approve", {MODERATOR}), (PENDING, CLAIM, {"root"})],
)
def test_unknown_names_are_programming_errors(state, action, roles):
    with pytest.raises(ValueError):
        states.transition(state, action, roles)


def test_the_state_groups():
    assert states.OPEN == {PENDING, CLAIMED, ESCALATED, APPEALED}
    assert states.ENFORCED == {CONFIRMED, APPEALED, UPHELD}
    assert states.UNREVIEWED == {PENDING, CLAIMED, ESCALATED}
    assert states.CLEARED == {DISMISSED, REINSTATED}
    # a decided flag leaves the queue except through an appeal; an appeal's decisions end it
    for state in (UPHELD, REINSTATED):
        assert states.allowed_from(state) == ()
    assert states.allowed_from(CONFIRMED) == (APPEAL,)
    assert states.allowed_from(DISMISSED) == (REOPEN,)
