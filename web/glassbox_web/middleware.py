"""Pages require a login by default; the API authenticates itself (token or session)."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware


class PageLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's login-required default, except under ``/api/`` where DRF decides.

    DRF views answer 401/403 problem responses instead of redirecting to the login page, and
    they accept token authentication, which this middleware cannot see.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
