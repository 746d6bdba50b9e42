"""Every new user joins the ``member`` role."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models.signals import post_save
from django.dispatch import receiver

from .roles import MEMBER


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.join_member")
def join_member_role(sender, instance, created: bool, raw: bool = False, **_: object) -> None:
    if created and not raw:
        group, _created = Group.objects.get_or_create(name=MEMBER)
        instance.groups.add(group)
