"""The admin's login, behind the same lockout as the login page (accounts.lockout)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required

from .lockout import throttled_login


@login_not_required
@throttled_login
def admin_login(request, extra_context=None):
    """``/admin/login/``: the admin site's own login view, refused while locked out."""
    return admin.site.login(request, extra_context=extra_context)
