"""Who may use the moderation API: moderators for the queue, admins for the audit trail, and
for a flag's evidence images its item's owner too."""

from __future__ import annotations

from accounts.permissions import IsModerator
from rest_framework.permissions import BasePermission

from ..models import Flag


class IsAdmin(BasePermission):
    """A superuser (the admin holds every role)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_superuser)


class IsModeratorOrOwner(BasePermission):
    """A moderator, or the owner of the flagged item (checked on the flag)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj: Flag) -> bool:
        return obj.item.owner_id == request.user.pk or IsModerator().has_permission(request, view)


__all__ = ["IsAdmin", "IsModerator", "IsModeratorOrOwner"]
