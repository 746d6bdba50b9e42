"""What the index reconciler's consistency checks found (the latest ones are kept)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

KEEP = 100


class IndexCheck(models.Model):
    ran_at = models.DateTimeField(default=timezone.now, db_index=True)
    in_step = models.BooleanField()
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, help_text="counts and the ids repaired")

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"{self.ran_at:%Y-%m-%d %H:%M:%S} {self.summary}"

    @classmethod
    def record(cls, in_step: bool, summary: str, details: dict) -> IndexCheck:
        check = cls.objects.create(in_step=in_step, summary=summary[:300], details=details)
        old = cls.objects.order_by("-ran_at").values_list("pk", flat=True)[KEEP:]
        cls.objects.filter(pk__in=list(old)).delete()
        return check
