"""Every new user joins the ``member`` role; failed logins count towards a lockout and a
successful one clears its username's count (accounts.lockout)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import lockout
from .roles import MEMBER


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.join_member")
def join_member_role(sender, instance, created: bool, raw: bool = False, **_: object) -> None:
    if created and not raw:
        group, _created = Group.objects.get_or_create(name=MEMBER)
        instance.groups.add(group)


@receiver(user_login_failed, dispatch_uid="accounts.count_login_failure")
def count_login_failure(sender, credentials: dict, request=None, **_: object) -> None:
    """Every failed ``authenticate()`` (page, admin, token endpoint) counts against the
    username tried and, when there is a request, its client address."""
    address = lockout.client_address(request) if request is not None else ""
    lockout.record_failure(lockout.username_of(credentials), address)


@receiver(user_logged_in, dispatch_uid="accounts.reset_login_failures")
def reset_login_failures(sender, request, user, **_: object) -> None:
    lockout.reset_username(user.get_username())
