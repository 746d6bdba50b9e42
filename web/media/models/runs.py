"""A reprocessing run: the items an operator asked to bring to the current versions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReprocessRun(models.Model):
    """One "Reprocess selected / all" from the dashboard (``media.reprocess``).

    Its progress is read from the items themselves: done when an item is ready at
    ``target_fingerprint``, failed when it failed, pending otherwise; ``finished`` is set
    the first time nothing is pending.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    target_fingerprint = models.CharField(max_length=16)
    target_versions = models.JSONField(default=dict)
    item_ids = models.JSONField(default=list, help_text="the items sent, ascending")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="as last counted")
    failed = models.PositiveIntegerField(default=0, help_text="as last counted")

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"reprocess run {self.pk} ({self.total} items)"
