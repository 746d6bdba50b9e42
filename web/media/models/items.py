"""An uploaded media item and its processing life-cycle."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q


def original_path(instance: MediaItem, filename: str) -> str:
    ext = PurePosixPath(filename).suffix.lower().lstrip(".") or "bin"
    return f"originals/{uuid.uuid4().hex}.{ext}"


def thumbnail_path(instance: MediaItem, filename: str) -> str:
    return f"thumbnails/{uuid.uuid4().hex}.jpg"


def proxy_path(instance: MediaItem, filename: str) -> str:
    ext = PurePosixPath(filename).suffix.lower().lstrip(".") or "mp4"
    return f"proxies/{uuid.uuid4().hex}.{ext}"


class MediaQuerySet(models.QuerySet):
    # Moderation's rule, given by the moderation app when it loads
    # (``moderation.visibility.install``): a filter on the items that only their owner may
    # see whatever their visibility (hidden until reviewed, removed, restricted).
    owner_only_rule: Callable[[], Q] | None = None

    def visible_to(self, user) -> MediaQuerySet:
        """Items ``user`` may see: their own and everyone's public items, less the public
        items moderation shows to their owner only. Nothing if anonymous.

        Every page, API endpoint, file view and search result goes through this filter.
        """
        if user is None or not user.is_authenticated:
            return self.none()
        public = Q(visibility=MediaItem.Visibility.PUBLIC)
        if self.owner_only_rule is not None:
            public &= ~self.owner_only_rule()
        return self.filter(Q(owner_id=user.pk) | public)

    def owned_by(self, user) -> MediaQuerySet:
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(owner_id=user.pk)


class MediaItem(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private"
        PUBLIC = "public"

    class Kind(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_items"
    )
    title = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMAGE)
    file = models.FileField(upload_to=original_path, max_length=255)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=255, blank=True)
    mime = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    needs_reindex = models.BooleanField(
        default=False, help_text="The search index missed a change and must be re-synced."
    )
    lease_owner = models.CharField(
        max_length=100, blank=True, help_text="Who is processing it (a task id), while leased."
    )
    lease_expires = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the worker's hold lapses."
    )
    interruptions = models.PositiveSmallIntegerField(
        default=0, help_text="Times its worker was lost mid-way (the reaper counts them)."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    text_lines = models.JSONField(
        default=list, blank=True, help_text="OCR: [{text, box, score}], box as fractions"
    )
    nsfw = models.JSONField(
        default=list, blank=True, help_text="nsfw_detector: [{label, box, score}] above threshold"
    )
    detected_objects = models.JSONField(
        default=list,
        blank=True,
        help_text="the object detector's classes: name, boxes, count, colour",
    )
    caption = models.TextField(blank=True, help_text="Grounded caption (plain, untrusted text).")
    caption_phrases = models.JSONField(
        default=list,
        blank=True,
        help_text="[{start, end, kind, label, boxes, concept_ids, line}] over caption",
    )
    # Video only (``shots`` hold the per-shot evidence)
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True, help_text="the stream's mean frame rate")
    frame_count = models.PositiveIntegerField(null=True, blank=True)
    variable_frame_rate = models.BooleanField(default=False)
    proxy = models.FileField(
        upload_to=proxy_path, max_length=255, blank=True, help_text="browser-playable copy"
    )
    proxy_mime = models.CharField(max_length=64, blank=True)
    progress = models.JSONField(
        default=dict, blank=True, help_text='while analysing: {"stage", "done", "total"}'
    )
    # What produced the stored analysis (``glassbox.analysis.version``): the analysis', the
    # concept bank's and the Triton models' versions, and their fingerprint; empty when it
    # was analysed before items recorded them. ``media.reprocess`` lists the ready items whose
    # fingerprint is not the current one.
    analysis_versions = models.JSONField(
        default=dict, blank=True, help_text='{"analysis", "concept_bank", "models": {name: v}}'
    )
    analysis_fingerprint = models.CharField(
        max_length=16, blank=True, db_index=True, help_text="sha256 of analysis_versions, 16 hex"
    )

    objects = MediaQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["owner", "-created"]), models.Index(fields=["visibility"])]

    def __str__(self) -> str:
        return self.title or f"media {self.pk}"

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC

    def lease_expired(self, now) -> bool:
        """Processing, but its worker's lease lapsed (the worker was lost)."""
        return (
            self.status == self.Status.PROCESSING
            and self.lease_expires is not None
            and self.lease_expires < now
        )

    @property
    def is_video(self) -> bool:
        return self.kind == self.Kind.VIDEO

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.PROCESSING)
