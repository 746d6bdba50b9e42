"""Roles are Django groups, created by a data migration. A superuser holds every role."""

from __future__ import annotations

MEMBER = "member"
MODERATOR = "moderator"
OPERATOR = "operator"
ROLES = (MEMBER, MODERATOR, OPERATOR)


def has_role(user, role: str) -> bool:
    """Whether a signed-in ``user`` holds ``role`` (an anonymous one holds none)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=role).exists()
