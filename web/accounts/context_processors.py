"""What the page header needs to know about the signed-in user: which role pages to link."""

from __future__ import annotations

from .roles import MODERATOR, OPERATOR


def roles(request) -> dict[str, bool]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_moderate": False, "can_operate": False, "is_admin": False}
    if user.is_superuser:  # a superuser holds every role (accounts.roles.has_role)
        return {"can_moderate": True, "can_operate": True, "is_admin": True}
    held = set(user.groups.filter(name__in=(MODERATOR, OPERATOR)).values_list("name", flat=True))
    return {"can_moderate": MODERATOR in held, "can_operate": OPERATOR in held, "is_admin": False}
