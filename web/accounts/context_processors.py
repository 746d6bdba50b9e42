"""What the page header needs to know about the signed-in user: which role pages to link."""

from __future__ import annotations

from .roles import MODERATOR, OPERATOR, has_role


def roles(request) -> dict[str, bool]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can_moderate": False, "can_operate": False, "is_admin": False}
    return {
        "can_moderate": has_role(user, MODERATOR),
        "can_operate": has_role(user, OPERATOR),
        "is_admin": bool(user.is_superuser),
    }
