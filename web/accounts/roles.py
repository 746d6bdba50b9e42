"""Roles are Django groups, created by a data migration."""

from __future__ import annotations

MEMBER = "member"
MODERATOR = "moderator"
OPERATOR = "operator"
ROLES = (MEMBER, MODERATOR, OPERATOR)
