"""Role checks, in one place: DRF permission classes for the API, decorators for pages.

In the API an anonymous caller gets 401 and a signed-in one without the role 403, both as
problem documents. On a page an anonymous visitor is sent to the login page, as everywhere
else, and a signed-in user without the role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from .roles import MODERATOR, OPERATOR, has_role


class HasRole(BasePermission):
    """Allows a signed-in user holding ``role``; subclasses name the role."""

    role: str

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, self.role)


class IsModerator(HasRole):
    role = MODERATOR


class IsOperator(HasRole):
    role = OPERATOR


def role_required(role: str) -> Callable:
    """A page decorator: login for an anonymous visitor, 403 without ``role``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, role):
                raise PermissionDenied(f"This page is for the {role} role.")
            return view(request, *args, **kwargs)

        return checked

    return decorator


moderator_required = role_required(MODERATOR)
operator_required = role_required(OPERATOR)
