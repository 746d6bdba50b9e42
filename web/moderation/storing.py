"""An analysis' policy hits (``Analysis.flags``) into ``Flag`` rows, in the transaction that
stores the analysis (``media.actions.lifecycle``).

A re-analysis updates the flags and keeps the decisions. Old and new are matched by policy
and time range (an image has one range, the whole of it; a video's match by overlap):

- a matched flag that was decided keeps its state and decision; its score, rule, evidence
  and counterfactual are brought up to date;
- a matched open flag is brought up to date (its version moves, so a moderator who saw the
  old evidence gets a conflict);
- a matched flag the system had closed is opened again (``flag.reopened``);
- an open flag (pending, claimed, escalated) that no longer fires is closed by the system:
  dismissed with no decider (``flag.closed``), never deleted;
- a new hit becomes a pending flag (``flag.created``).

A video's windows are analysed one at a time, each checkpointed: a window's hits are kept
beside it (``WindowHits``) and merged when the video's analysis closes, adjacent windows of
one policy into one flag whose range spans them, its evidence (and keyframe) the strongest
window's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone
from media.models import MediaItem, Shot

from . import active, audit, states, visibility
from .models import Flag, WindowHits

CONTENT_FIELDS = ("score", "hide", "rule", "evidence", "counterfactual", "start_s", "end_s")
GAP_S = 0.05  # windows closer than this are adjacent
CLOSED_REASON = "the re-analysis no longer raises this flag"
REOPENED_REASON = "a re-analysis raises this flag again"


@dataclass
class Hit:
    """One policy hit as stored: ``Analysis.flags`` entries, a video's with their range."""

    policy: str
    score: float
    hide: bool
    rule: str
    evidence: list
    counterfactual: dict | None
    start_s: float | None = None
    end_s: float | None = None
    keyframe: Shot | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any], **where) -> Hit:
        return cls(
            policy=str(raw["policy"]),
            score=round(float(raw["score"]), 4),
            hide=bool(raw.get("hide", False)),
            rule=str(raw.get("rule") or ""),
            evidence=list(raw.get("evidence") or []),
            counterfactual=dict(raw["counterfactual"]) if raw.get("counterfactual") else None,
            **where,
        )


def store_item_flags(item: MediaItem, flags: Sequence[Mapping[str, Any]]) -> None:
    """An image's hits (``Analysis.flags``); run inside the item's lock."""
    reconcile(item, [Hit.of(raw) for raw in flags])


def store_window_hits(shot: Shot, flags: Sequence[Mapping[str, Any]]) -> None:
    """Keep a video window's hits with its checkpoint (merged by :func:`store_video_flags`)."""
    WindowHits.objects.update_or_create(shot=shot, defaults={"hits": [dict(f) for f in flags]})


def store_video_flags(item: MediaItem) -> None:
    """A video's flags from its windows' hits; run inside the item's lock."""
    shots = list(item.shots.order_by("index"))
    kept = {h.shot_id: h.hits for h in WindowHits.objects.filter(shot__in=[s.pk for s in shots])}
    reconcile(item, merge_windows(shots, kept))


def merge_windows(shots: Sequence[Shot], hits: Mapping[int, list]) -> list[Hit]:
    """Each window's hits as time ranges, adjacent windows of one policy merged into one
    hit: the range spans them, the score is their best, ``hide`` if any hides, and the rule,
    evidence, counterfactual and keyframe are those of the strongest window."""
    runs: dict[str, list[list[Hit]]] = {}
    for shot in sorted(shots, key=lambda s: s.index):
        for raw in hits.get(shot.pk) or []:
            hit = Hit.of(raw, start_s=shot.start_s, end_s=shot.end_s, keyframe=shot)
            policy_runs = runs.setdefault(hit.policy, [])
            if policy_runs and hit.start_s <= policy_runs[-1][-1].end_s + GAP_S:
                policy_runs[-1].append(hit)
            else:
                policy_runs.append([hit])
    merged = []
    for policy_runs in runs.values():
        for run in policy_runs:
            best = max(run, key=lambda h: h.score)
            merged.append(
                Hit(
                    policy=best.policy,
                    score=best.score,
                    hide=any(h.hide for h in run),
                    rule=best.rule,
                    evidence=best.evidence,
                    counterfactual=best.counterfactual,
                    start_s=run[0].start_s,
                    end_s=run[-1].end_s,
                    keyframe=best.keyframe,
                )
            )
    return sorted(merged, key=lambda h: (h.start_s or 0.0, h.policy))


def reconcile(item: MediaItem, hits: Iterable[Hit]) -> None:
    """Bring the item's flags in step with ``hits`` (the rules above), with audit events."""
    existing = list(Flag.objects.select_for_update().filter(item=item).order_by("id"))
    before = visibility.of_flags(existing)
    unmatched = list(existing)
    for hit in hits:
        match = _best_match(hit, unmatched)
        if match is None:
            _create(item, hit)
            continue
        unmatched.remove(match)
        _refresh(match, hit)
    for flag in unmatched:
        if flag.state in states.UNREVIEWED:
            _move_by_system(flag, states.CLOSE, CLOSED_REASON)
    after = visibility.of_flags(list(Flag.objects.filter(item=item)))
    if before.effects() != after.effects():
        audit.record(
            "item.visibility",
            item=item,
            before=before.effects(),
            after=after.effects(),
            reason="analysis",
        )


def _best_match(hit: Hit, flags: Sequence[Flag]) -> Flag | None:
    """The flag of the same policy on the same range (an image's) or overlapping it most."""
    best, best_overlap = None, 0.0
    for flag in flags:
        if flag.policy != hit.policy:
            continue
        if hit.start_s is None or hit.end_s is None or flag.start_s is None or flag.end_s is None:
            if hit.start_s is None and flag.start_s is None:
                return flag
            continue
        overlap = min(hit.end_s, flag.end_s) - max(hit.start_s, flag.start_s)
        same = abs(hit.start_s - flag.start_s) < 1e-6 and abs(hit.end_s - flag.end_s) < 1e-6
        if overlap > best_overlap or (same and best is None):
            best, best_overlap = flag, max(overlap, 0.0)
    return best


def _content(hit: Hit) -> dict[str, Any]:
    return {
        "score": hit.score,
        "hide": hit.hide,
        "rule": hit.rule,
        "evidence": hit.evidence,
        "counterfactual": hit.counterfactual,
        "start_s": hit.start_s,
        "end_s": hit.end_s,
    }


def _create(item: MediaItem, hit: Hit) -> Flag:
    flag = Flag.objects.create(
        item=item,
        policy=hit.policy,
        action=active.action_of(hit.policy),
        keyframe=hit.keyframe,
        **_content(hit),
    )
    audit.flag_event("created", flag, None, reason=hit.rule)
    return flag


def _refresh(flag: Flag, hit: Hit) -> None:
    content = _content(hit)
    changed = {k: v for k, v in content.items() if getattr(flag, k) != v}
    if hit.keyframe is not None and flag.keyframe_id != hit.keyframe.pk:
        changed["keyframe"] = hit.keyframe
    if flag.closed_by_system:
        if changed:
            Flag.objects.filter(pk=flag.pk).update(updated=timezone.now(), **changed)
            flag.refresh_from_db()
        _move_by_system(flag, states.REOPEN, REOPENED_REASON)
        return
    if not changed:
        return
    before = audit.flag_snapshot(flag)
    Flag.objects.filter(pk=flag.pk).update(
        version=F("version") + 1, updated=timezone.now(), **changed
    )
    flag.refresh_from_db()
    if before != audit.flag_snapshot(flag):  # the score or hide moved: worth a line
        audit.flag_event("updated", flag, before, reason="re-analysis")


def _move_by_system(flag: Flag, action: str, reason: str) -> None:
    move = states.transition(flag.state, action, {states.SYSTEM})
    before = audit.flag_snapshot(flag)
    closing = action == states.CLOSE
    now = timezone.now()
    fields: dict[str, Any] = {
        "state": move.after,
        "claimed_by": None,
        "claimed_at": None,
        "decided_by": None,  # nobody: the system closed it (``Flag.closed_by_system``)
        "decided_at": now if closing else None,
        "reason": reason if closing else "",
    }
    Flag.objects.filter(pk=flag.pk).update(version=F("version") + 1, updated=now, **fields)
    flag.refresh_from_db()
    audit.flag_event(action, flag, before, reason=reason)
