"""Moderation's rows: flags (one per policy hit on an image, or on a video's time range),
appeals, the append-only audit trail, the admin-editable policies, and each video window's
raw hits (merged into flags when the video's analysis closes).

Every change of a flag goes through ``moderation.actions`` (or, at analysis time,
``moderation.storing``), each in one transaction with its ``AuditEvent``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from media.models import MediaItem, Shot

from . import states


class Flag(models.Model):
    """One policy hit: the score, the rule in words, the evidence that raised it, and where
    it stands in review. ``version`` grows with every change (optimistic locking: a change
    names the version its author saw, and fails with a conflict if it moved)."""

    class State(models.TextChoices):
        PENDING = states.PENDING
        CLAIMED = states.CLAIMED
        ESCALATED = states.ESCALATED
        CONFIRMED = states.CONFIRMED
        DISMISSED = states.DISMISSED
        APPEALED = states.APPEALED
        UPHELD = states.UPHELD
        REINSTATED = states.REINSTATED

    class Action(models.TextChoices):
        REMOVE = "remove"
        RESTRICT = "restrict"

    item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="flags")
    policy = models.CharField(max_length=64, help_text="the policy's slug")
    score = models.FloatField()
    hide = models.BooleanField(
        default=False,
        help_text="at the policy's hide threshold: owner only until reviewed",
    )
    action = models.CharField(
        max_length=10,
        choices=Action.choices,
        default=Action.RESTRICT,
        help_text="the policy's action on confirmation (as the policy says then)",
    )
    rule = models.TextField(help_text="the rule in words (untrusted text: read lines)")
    evidence = models.JSONField(
        default=list, blank=True, help_text="what raised it, strongest first"
    )
    counterfactual = models.JSONField(null=True, blank=True)
    start_s = models.FloatField(null=True, blank=True, help_text="video: the range's start")
    end_s = models.FloatField(null=True, blank=True, help_text="video: the range's end")
    keyframe = models.ForeignKey(
        Shot,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flags",
        help_text="video: the window whose keyframe shows the evidence",
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    version = models.PositiveIntegerField(default=1)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="who gave the latest decision (none: the system closed it)",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="the latest decision's reason (untrusted)")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [
            models.Index(fields=["state", "created"], name="moderation_flag_queue_idx"),
            models.Index(fields=["state", "-score"], name="moderation_flag_score_idx"),
            models.Index(fields=["policy", "state"], name="moderation_flag_policy_idx"),
            models.Index(fields=["item", "policy"], name="moderation_flag_item_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} on {self.item_id} ({self.state}, {self.score:.2f})"

    @property
    def age(self) -> dt.timedelta:
        return timezone.now() - self.created

    @property
    def is_open(self) -> bool:
        """Waiting for a moderator (in the queue)."""
        return self.state in states.OPEN

    @property
    def is_enforced(self) -> bool:
        """Confirmed and standing: the policy's action applies."""
        return self.state in states.ENFORCED

    @property
    def closed_by_system(self) -> bool:
        """Dismissed because a re-analysis no longer raised it (nobody decided)."""
        return self.state == states.DISMISSED and self.decided_by_id is None

    @property
    def is_video_range(self) -> bool:
        return self.start_s is not None and self.end_s is not None


class Appeal(models.Model):
    """The owner's appeal of a confirmed flag (one per flag), decided by another moderator."""

    flag = models.OneToOneField(Flag, on_delete=models.CASCADE, related_name="appeal")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderation_appeals"
    )
    message = models.TextField(help_text="the owner's message (untrusted text)")
    created = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"appeal of flag {self.flag_id}"


class AppendOnly(Exception):
    """An audit row was about to be changed or deleted."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit events are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnly("audit events are append-only: they cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnly("audit events are append-only: they cannot be updated")


class AuditEvent(models.Model):
    """Who did what, when, the state before and after, and why. Append-only: ``save()`` on a
    stored row, ``delete()`` and the queryset's ``update()``/``delete()`` raise, and a
    database trigger (migration 0002) refuses UPDATE and DELETE on PostgreSQL and SQLite.

    The links to the actor, the flag and the item are kept as plain ids (no foreign-key
    constraint, nothing cascades): a deleted user, flag or item leaves its audit rows as they
    were, naming it by id (and the actor by ``actor_name``)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="none: the system (the analysis)",
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="the username then")
    action = models.CharField(max_length=40, db_index=True)
    flag = models.ForeignKey(
        Flag,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    item = models.ForeignKey(
        MediaItem,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    policy = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["item", "at"], name="moderation_audit_item_idx")]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnly("audit events are append-only: a stored one cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit events are append-only: they cannot be deleted")


class PolicyRecord(models.Model):
    """The admin-editable copy of a policy: ``data`` is ``Policy.as_dict()`` and is validated
    by ``glassbox.moderation.policies.policy_from_dict``. Created from the policy file when
    missing, never overwritten from it; every change is audited (``moderation.active``)."""

    slug = models.SlugField(max_length=64, unique=True)
    data = models.JSONField(help_text="the policy as JSON (Policy.as_dict())")
    enabled = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = "policy"
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.slug


class WindowHits(models.Model):
    """A video window's policy hits (``Analysis.flags`` of its keyframe), kept with the
    window's checkpoint; ``moderation.storing`` merges them into the video's flags."""

    shot = models.OneToOneField(Shot, on_delete=models.CASCADE, related_name="moderation_hits")
    hits = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"hits of shot {self.shot_id}"
