"""Writing the audit trail: one ``AuditEvent`` per change, inside the change's transaction.

Action names: ``flag.<what happened>`` (created, updated, claimed, released, confirmed,
dismissed, escalated, appealed, upheld, reinstated, closed, reopened) for a flag,
``item.visibility`` for a change moderation made to who may see an item, and
``policy.created`` / ``policy.changed`` for a policy.
"""

from __future__ import annotations

from typing import Any

from .models import AuditEvent, Flag

PAST = {
    "claim": "claimed",
    "release": "released",
    "confirm": "confirmed",
    "dismiss": "dismissed",
    "escalate": "escalated",
    "appeal": "appealed",
    "uphold": "upheld",
    "reinstate": "reinstated",
    "close": "closed",
    "reopen": "reopened",
}


def flag_snapshot(flag: Flag) -> dict[str, Any]:
    """What an audit row records of a flag's standing."""
    return {
        "state": flag.state,
        "version": flag.version,
        "claimed_by": _username(flag.claimed_by) if flag.claimed_by_id else None,
        "score": round(float(flag.score), 4),
        "hide": bool(flag.hide),
    }


def record(
    action: str,
    *,
    actor=None,
    flag: Flag | None = None,
    item=None,
    policy: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    if flag is not None:
        item_id = flag.item_id
        policy = policy or flag.policy
    else:
        item_id = item.pk if item is not None else None
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=_username(actor) if actor is not None and actor.is_authenticated else "",
        action=action,
        flag=flag,
        item_id=item_id,
        policy=policy,
        before=before,
        after=after,
        reason=reason or "",
    )


def flag_event(action: str, flag: Flag, before: dict | None, *, actor=None, reason: str = ""):
    """The event of a flag's move (``action`` in ``states.ACTIONS``, or ``created``/``updated``)."""
    return record(
        f"flag.{PAST.get(action, action)}",
        actor=actor,
        flag=flag,
        before=before,
        after=flag_snapshot(flag),
        reason=reason,
    )


def _username(user) -> str:
    return user.get_username() if user is not None else ""
