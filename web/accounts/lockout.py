"""Failed-login lockouts, by username and by client address, counted in the database.

Every way in that checks a password (the login page, ``/admin/login/``, ``POST
/api/v1/auth/token/``) asks :func:`current_lockout` first and refuses while either the
username or the client address is locked, even with the right password. Failures are
counted by the ``user_login_failed`` signal (accounts.signals), so only a real failed
authentication counts; a successful login resets the username's counter (not the address's:
one known account must not clear an address that is guessing others).

Limits (``settings.LOGIN_THROTTLE``, from ``GLASSBOX_LOGIN_*``): ``FAILURES_PER_USERNAME``
and ``FAILURES_PER_ADDRESS`` failures within ``WINDOW_S`` seconds of the first one lock that
username or address for ``WINDOW_S`` seconds from the failure that reached the limit; the
next attempt is refused, so the limit is the number of wrong passwords allowed. The counters
are rows of :class:`accounts.models.LoginThrottle`, updated under a row lock, so every web
process and replica counts together.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from .models import LoginThrottle

Kind = LoginThrottle.Kind


@dataclass(frozen=True)
class Lockout:
    """Why an attempt is refused, and until when."""

    kind: str  # LoginThrottle.Kind: "username" or "address"
    until: datetime

    def retry_after_s(self, now: datetime | None = None) -> int:
        return max(1, math.ceil((self.until - (now or timezone.now())).total_seconds()))

    def message(self, now: datetime | None = None) -> str:
        minutes = math.ceil(self.retry_after_s(now) / 60)
        who = "for this username" if self.kind == Kind.USERNAME else "from your network address"
        wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
        at = self.until.astimezone(UTC)
        return (
            f"Too many failed log-in attempts {who}. Logging in is blocked for now, even with "
            f"the right password: try again in {wait} (after {at:%H:%M} UTC)."
        )


def client_address(request) -> str:
    """The client's address as DRF's throttles see it (``NUM_PROXIES`` trusted hops)."""
    return BaseThrottle().get_ident(request) or ""


def username_of(data) -> str:
    """The username typed into a login form or sent to the token endpoint."""
    value = data.get(get_user_model().USERNAME_FIELD, "") if data is not None else ""
    return value if isinstance(value, str) else ""


def _limits() -> tuple[dict[str, int], timedelta]:
    cfg = settings.LOGIN_THROTTLE
    limits = {
        Kind.USERNAME: cfg["FAILURES_PER_USERNAME"],
        Kind.ADDRESS: cfg["FAILURES_PER_ADDRESS"],
    }
    return limits, timedelta(seconds=cfg["WINDOW_S"])


def _key(kind: str, value: str) -> str:
    normal = value.strip().casefold() if kind == Kind.USERNAME else value.strip()
    return hashlib.sha256(f"{kind}:{normal}".encode()).hexdigest()


def _subjects(username: str, address: str) -> list[tuple[str, str]]:
    """(kind, key) of what an attempt counts against; empty values count against nothing."""
    pairs = [(Kind.USERNAME, username), (Kind.ADDRESS, address)]
    return [(kind, _key(kind, value)) for kind, value in pairs if value and value.strip()]


def current_lockout(username: str, address: str, now: datetime | None = None) -> Lockout | None:
    """The lockout that refuses this attempt (the longer one when both apply), or None."""
    now = now or timezone.now()
    subjects = _subjects(username, address)
    if not subjects:
        return None
    match = Q()
    for kind, key in subjects:
        match |= Q(kind=kind, key=key)
    row = (
        LoginThrottle.objects.filter(match, locked_until__gt=now)
        .order_by("-locked_until")
        .values("kind", "locked_until")
        .first()
    )
    return Lockout(row["kind"], row["locked_until"]) if row else None


def record_failure(username: str, address: str, now: datetime | None = None) -> None:
    """Count one failed authentication against the username and the address."""
    now = now or timezone.now()
    limits, window = _limits()
    for kind, key in _subjects(username, address):
        limit = limits[kind]
        if limit <= 0:
            continue
        with transaction.atomic():
            LoginThrottle.objects.bulk_create(
                [LoginThrottle(kind=kind, key=key, window_started=now)], ignore_conflicts=True
            )
            row = LoginThrottle.objects.select_for_update().get(kind=kind, key=key)
            locked = row.locked_until is not None and row.locked_until > now
            if not locked and row.window_started + window <= now:  # a new window begins
                row.failures, row.window_started, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= limit and row.locked_until is None:
                row.locked_until = now + window
            row.save(update_fields=["failures", "window_started", "locked_until"])


def reset_username(username: str) -> None:
    """Forget a username's failures (after it logged in)."""
    for kind, key in _subjects(username, ""):
        LoginThrottle.objects.filter(kind=kind, key=key).delete()


def refused_page(request, lockout: Lockout):
    """The page a locked login attempt gets: 429, the reason, and when to try again."""
    now = timezone.now()
    response = render(
        request,
        "accounts/login_locked.html",
        {"message": lockout.message(now), "until": lockout.until, "retry": request.get_full_path()},
        status=429,
    )
    response["Retry-After"] = str(lockout.retry_after_s(now))
    return response


def throttled_login(view):
    """Wrap a login view: a POST for a locked username or address gets :func:`refused_page`
    before the view checks any password."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            lockout = current_lockout(username_of(request.POST), client_address(request))
            if lockout is not None:
                return refused_page(request, lockout)
        return view(request, *args, **kwargs)

    return wrapper
