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


class TokenForSafeRequestsMiddleware:
    """Let API clients fetch what the API links to (originals, thumbnails, heat maps) with
    the same ``Authorization: Token …`` header they use for the API.

    Only safe methods (GET, HEAD) are authenticated this way, so a token can never stand in
    for the session and CSRF token of a page form. Runs after ``AuthenticationMiddleware``.
    """

    SAFE = ("GET", "HEAD")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.method in self.SAFE
            and not request.path_info.startswith("/api/")
            and request.META.get("HTTP_AUTHORIZATION", "").startswith("Token ")
            and not request.user.is_authenticated
        ):
            from rest_framework.authentication import TokenAuthentication
            from rest_framework.exceptions import AuthenticationFailed

            try:
                found = TokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                found = None
            if found is not None:
                request.user = found[0]
        return self.get_response(request)
