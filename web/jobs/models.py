"""The outbox: one row per job that must reach the broker (a task name and an item id)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A job written with the change it follows, deleted once the broker has it.

    At most one row waits per (task, item): a second request for the same job before the first
    is sent is the same job, since every task reads the item's state when it runs.
    """

    task = models.CharField(max_length=64)
    item_id = models.BigIntegerField()
    created = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "item_id"], name="jobs_outbox_one_per_job")
        ]

    def __str__(self) -> str:
        return f"{self.task}({self.item_id})"
