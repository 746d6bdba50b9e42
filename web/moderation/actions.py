"""Every change a person makes to a flag, each in one transaction with its audit event.

Each action takes the flag's id, the acting user and the ``version`` of the flag that user
saw, and returns the updated ``Flag``. The write is ``UPDATE ... WHERE id = ? AND version =
?`` (optimistic locking): when the version moved (someone else acted first) or the move is
not allowed from the flag's current state, the action raises :class:`Conflict`, which carries
the current state and version (the API answers 409 with them). :class:`Forbidden` means the
user may not do this at all (not a moderator; an escalated flag is for an admin; an appeal is
decided by someone other than whoever confirmed the flag; nobody reviews their own item).

Claims: a moderator claims a flag so that two do not work on it at once; a claim older than
``settings.MODERATION["CLAIM_STALE_S"]`` may be taken over by another moderator, a fresh one
may not (a conflict). A decision on a flag someone else holds a fresh claim on is a conflict.

A change that alters what moderation does to the item (hidden, removed, restricted, or the
"flagged" search field) writes an ``item.visibility`` event and, in the same transaction,
asks for the item to be re-indexed through the outbox (``jobs.outbox``), as a visibility
change by its owner does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts.roles import MODERATOR, has_role
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from jobs import outbox
from media.actions import lifecycle
from media.models import MediaItem

from . import active, audit, states, visibility
from .models import Appeal, Flag

MAX_REASON = 2000
MAX_MESSAGE = 4000
MAX_BULK = 200
_UNCLAIMED = {"claimed_by": None, "claimed_at": None}


class Conflict(Exception):
    """The flag moved on (another version) or is in a state this action cannot start from."""

    def __init__(self, flag: Flag, detail: str = "") -> None:
        self.flag = flag
        self.state = flag.state
        self.version = flag.version
        self.detail = detail or f"the flag is {flag.state} (version {flag.version})"
        super().__init__(self.detail)


class Forbidden(Exception):
    """The user may not take this action."""


class NotFound(Exception):
    """No such flag, or (appeal) no such item of the user's."""


def claim_stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.MODERATION["CLAIM_STALE_S"]))


def roles_of(user) -> frozenset[str]:
    """The state machine's roles a user holds over flags (the owner role is per item)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return frozenset({states.MODERATOR, states.ADMIN})
    return frozenset({states.MODERATOR}) if has_role(user, MODERATOR) else frozenset()


def is_moderator(user) -> bool:
    return states.MODERATOR in roles_of(user)


def is_admin(user) -> bool:
    return user is not None and user.is_authenticated and user.is_superuser


# -- the queue --------------------------------------------------------------------------------


def queue(
    user,
    *,
    policy: str | None = None,
    kind: str | None = None,
    older_than: dt.timedelta | None = None,
    order: str = "oldest",
) -> QuerySet[Flag]:
    """Open flags (pending, claimed, escalated, appealed), oldest first or strongest first,
    for moderators only (``Forbidden`` otherwise)."""
    _require_moderator(user)
    flags = Flag.objects.filter(state__in=sorted(states.OPEN)).select_related(
        "item", "item__owner", "claimed_by", "decided_by", "keyframe"
    )
    if policy:
        flags = flags.filter(policy=policy)
    if kind:
        if kind not in MediaItem.Kind.values:
            raise ValueError(f"kind must be one of {', '.join(MediaItem.Kind.values)}")
        flags = flags.filter(item__kind=kind)
    if older_than is not None:
        flags = flags.filter(created__lte=timezone.now() - older_than)
    if order == "oldest":
        return flags.order_by("created", "id")
    if order == "score":
        return flags.order_by("-score", "created", "id")
    raise ValueError("order must be oldest or score")


# -- one flag ------------------------------------------------------------------------------


def claim(flag_id: int, user, version: int) -> Flag:
    """Take the flag for review; a stale claim of someone else's may be taken over."""
    with transaction.atomic():
        flag = _locked(flag_id)
        roles = _reviewer_roles(user, flag)
        _check_version(flag, version)
        move = _move(flag, states.CLAIM, roles)
        if flag.claimed_by_id == user.pk:
            return flag  # already one's own: nothing changes
        _check_claim(flag, user)
        return _apply(flag, version, move, user, {"claimed_by": user, "claimed_at": timezone.now()})


def release(flag_id: int, user, version: int) -> Flag:
    """Give the claim back (one's own, a stale one, or any as an admin)."""
    with transaction.atomic():
        flag = _locked(flag_id)
        roles = _reviewer_roles(user, flag)
        _check_version(flag, version)
        move = _move(flag, states.RELEASE, roles)
        if flag.claimed_by_id is None:
            raise Conflict(flag, "nobody holds a claim on this flag")
        if flag.claimed_by_id != user.pk and not (is_admin(user) or _stale(flag)):
            raise Forbidden("only whoever claimed the flag (or an admin) can release it")
        return _apply(flag, version, move, user, _UNCLAIMED)


def decide(flag_id: int, user, version: int, decision: str, reason: str = "") -> Flag:
    """``confirm`` or ``dismiss`` a flag (pending, claimed, or escalated for an admin); on an
    appealed flag ``uphold`` or ``reinstate`` it, by someone other than whoever confirmed it.
    Confirming applies the policy's action (as the policy says now)."""
    if decision not in states.DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(states.DECISIONS)}")
    reason = _clean(reason, MAX_REASON)
    with transaction.atomic():
        flag = _locked(flag_id)
        roles = _reviewer_roles(user, flag)
        _check_version(flag, version)
        move = _move(flag, decision, roles)
        _check_claim(flag, user)
        if decision in states.APPEAL_DECISIONS and flag.decided_by_id == user.pk:
            raise Forbidden("an appeal is decided by a moderator other than the one who confirmed")
        now = timezone.now()
        fields = {"decided_by": user, "decided_at": now, "reason": reason, **_UNCLAIMED}
        if decision == states.CONFIRM:
            fields["action"] = active.action_of(flag.policy, default=flag.action)
        if decision in states.APPEAL_DECISIONS:
            Appeal.objects.filter(flag=flag).update(decided_by=user, decided_at=now, reason=reason)
        return _apply(flag, version, move, user, fields, reason=reason)


def escalate(flag_id: int, user, version: int, reason: str = "") -> Flag:
    """Hand a flag on to an admin (escalated flags are decided by admins)."""
    reason = _clean(reason, MAX_REASON)
    with transaction.atomic():
        flag = _locked(flag_id)
        roles = _reviewer_roles(user, flag)
        _check_version(flag, version)
        move = _move(flag, states.ESCALATE, roles)
        _check_claim(flag, user)
        fields = {"reason": reason, **_UNCLAIMED}
        return _apply(flag, version, move, user, fields, reason=reason)


def appeal(item: MediaItem | int, user, message: str, *, flag_id: int | None = None) -> Appeal:
    """The owner appeals the item's confirmed flags (or the one named): each flag once. A
    second appeal is a ``Conflict``; an item that is not the user's is ``NotFound``. Returns
    the appeal of the strongest flag appealed."""
    message = _clean(message, MAX_MESSAGE)
    if not message:
        raise ValueError("an appeal needs a message")
    item_id = item.pk if isinstance(item, MediaItem) else int(item)
    if user is None or not user.is_authenticated:
        raise NotFound("no such item of yours")
    with transaction.atomic():
        owned = MediaItem.objects.owned_by(user).select_for_update().filter(pk=item_id).first()
        if owned is None:
            raise NotFound("no such item of yours")
        flags = owned.flags.select_for_update().order_by("-score", "id")
        if flag_id is not None:
            flags = flags.filter(pk=flag_id)
        flags = list(flags)
        if not flags:
            raise NotFound("no such flag on this item" if flag_id else "this item has no flag")
        wanted = [f for f in flags if f.state == states.CONFIRMED and not _has_appeal(f)]
        if not wanted:
            appealed = [f for f in flags if _has_appeal(f)]
            if appealed:
                raise Conflict(appealed[0], "this item's confirmed flags were already appealed")
            raise Conflict(flags[0], "only a confirmed flag can be appealed")
        before = visibility.of_flags(list(owned.flags.all()))
        made = []
        for f in wanted:
            move = states.transition(f.state, states.APPEAL, {states.OWNER})
            made.append(Appeal.objects.create(flag=f, author=user, message=message))
            _apply(f, f.version, move, user, {}, reason=message, effects=False)
        _after_effects(owned, before, user, message)
    return made[0]


def bulk(flag_ids: Iterable[int], user, decision: str, reason: str = "") -> list[Flag | Conflict]:
    """One decision (confirm, dismiss, escalate; uphold or reinstate on appealed flags) on
    each flag at its current version, each in its own transaction; a flag that cannot take
    it is a ``Conflict`` in the result (a flag that does not exist, one too). Raises
    ``Forbidden`` for a user who is not a moderator."""
    _require_moderator(user)
    ids = list(dict.fromkeys(int(i) for i in flag_ids))
    if not ids:
        raise ValueError("no flags named")
    if len(ids) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} flags at once")
    if decision not in (*states.DECISIONS, states.ESCALATE):
        raise ValueError(f"decision must be one of {', '.join((*states.DECISIONS, 'escalate'))}")
    out: list[Flag | Conflict] = []
    for flag_id in ids:
        current = Flag.objects.filter(pk=flag_id).first()
        if current is None:
            out.append(Conflict(_missing(flag_id), "no such flag"))
            continue
        try:
            if decision == states.ESCALATE:
                out.append(escalate(flag_id, user, current.version, reason))
            else:
                out.append(decide(flag_id, user, current.version, decision, reason))
        except Conflict as exc:
            out.append(exc)
        except (Forbidden, NotFound) as exc:
            out.append(Conflict(Flag.objects.get(pk=flag_id), str(exc)))
    return out


# -- internals -------------------------------------------------------------------------------


def _require_moderator(user) -> None:
    if not is_moderator(user):
        raise Forbidden("the review queue is for moderators")


def _locked(flag_id: int) -> Flag:
    flag = (
        Flag.objects.select_for_update(of=("self",))
        .select_related("item", "claimed_by", "decided_by")
        .filter(pk=flag_id)
        .first()
    )
    if flag is None:
        raise NotFound(f"no flag {flag_id}")
    return flag


def _check_version(flag: Flag, version: int) -> None:
    if int(version) != flag.version:
        raise Conflict(flag, f"the flag changed: it is {flag.state}, version {flag.version}")


def _reviewer_roles(user, flag: Flag) -> frozenset[str]:
    roles = roles_of(user)
    if not roles:
        raise Forbidden("reviewing flags is for moderators")
    if flag.item.owner_id == user.pk:
        raise Forbidden("nobody reviews flags on their own items")
    return roles


def _move(flag: Flag, action: str, roles: frozenset[str]) -> states.Move:
    try:
        return states.transition(flag.state, action, roles)
    except states.Refused as exc:
        if exc.conflict:
            raise Conflict(flag, str(exc)) from exc
        raise Forbidden(str(exc)) from exc


def _stale(flag: Flag) -> bool:
    return flag.claimed_at is None or timezone.now() - flag.claimed_at >= claim_stale_after()


def _check_claim(flag: Flag, user) -> None:
    if flag.claimed_by_id not in (None, user.pk) and not _stale(flag):
        raise Conflict(flag, f"{flag.claimed_by.get_username()} is reviewing this flag")


def _has_appeal(flag: Flag) -> bool:
    try:
        flag.appeal  # noqa: B018  (the reverse one-to-one: raises when there is none)
    except Appeal.DoesNotExist:
        return False
    return True


def _missing(flag_id: int) -> Flag:
    """A stand-in for a flag that does not exist (a bulk result)."""
    return Flag(pk=flag_id, state="", version=0)


def _apply(
    flag: Flag,
    version: int,
    move: states.Move,
    user,
    fields: dict,
    *,
    reason: str = "",
    effects: bool = True,
) -> Flag:
    """Write the move (``UPDATE ... WHERE version = seen``), its audit event and, unless
    ``effects`` is off (the caller reports them), its effect on the item."""
    before_item = visibility.of_flags(list(Flag.objects.filter(item_id=flag.item_id)))
    before = audit.flag_snapshot(flag)
    updated = Flag.objects.filter(pk=flag.pk, version=version).update(
        state=move.after, version=F("version") + 1, updated=timezone.now(), **fields
    )
    if not updated:  # someone else's write won in between
        raise Conflict(Flag.objects.get(pk=flag.pk))
    flag.refresh_from_db()
    audit.flag_event(move.action, flag, before, actor=user, reason=reason)
    if effects:
        _after_effects(flag.item, before_item, user, reason)
    return flag


def _after_effects(item: MediaItem, before: visibility.ItemModeration, user, reason: str) -> None:
    after = visibility.of_flags(list(Flag.objects.filter(item_id=item.pk)))
    reindex_if_changed(item, before, after, actor=user, reason=reason)


def reindex_if_changed(
    item: MediaItem,
    before: visibility.ItemModeration,
    after: visibility.ItemModeration,
    *,
    actor=None,
    reason: str = "",
) -> bool:
    """Record a change of the item's moderation effects and carry it to the index (in the
    caller's transaction). ``True`` if there was one."""
    if before.effects() != after.effects():
        audit.record(
            "item.visibility",
            actor=actor,
            item=item,
            before=before.effects(),
            after=after.effects(),
            reason=reason,
        )
    flagged_before = _flagged(before)
    if before.owner_only == after.owner_only and flagged_before == _flagged(after):
        return False
    current = MediaItem.objects.filter(pk=item.pk).values_list("status", flat=True).first()
    if current == MediaItem.Status.READY:  # else its indexing is still to come, with the flags
        MediaItem.objects.filter(pk=item.pk).update(needs_reindex=True, updated=timezone.now())
        outbox.enqueue(lifecycle.INDEX_TASK, item.pk)
    return True


def _flagged(found: visibility.ItemModeration) -> bool:
    return any(f.state in visibility.FLAGGED for f in found.flags)


def _clean(text: str, limit: int) -> str:
    return str(text or "").strip()[:limit]
