"""Failed-login counters, one row per hashed username or client address (see lockout.py)."""

from __future__ import annotations

from django.db import models


class LoginThrottle(models.Model):
    """Failures of one username or one client address within the current window.

    ``key`` is a SHA-256 of the normalised value, so the table never holds what people typed
    into the username field (sometimes a password). Rows are shared by every web process.
    """

    class Kind(models.TextChoices):
        USERNAME = "username"
        ADDRESS = "address"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    window_started = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="accounts_login_throttle_key")
        ]
        indexes = [models.Index(fields=["locked_until"], name="accounts_login_locked_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key[:12]}…: {self.failures} failures"
