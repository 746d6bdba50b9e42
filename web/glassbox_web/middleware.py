"""Pages require a login by default; the API authenticates itself (token or session). Every
response carries a Content-Security-Policy."""

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
            from accounts.authentication import ExpiringTokenAuthentication
            from rest_framework.exceptions import AuthenticationFailed

            try:
                found = ExpiringTokenAuthentication().authenticate(request)
            except AuthenticationFailed:
                found = None
            if found is not None:
                request.user = found[0]
        return self.get_response(request)


# Scripts and style sheets only from our own static files: no inline <script>, no on*=
# handlers, no javascript: URLs, no <style> blocks (tests/web/test_security_headers.py scans
# the templates). Inline style="" attributes stay allowed: the evidence boxes are positioned
# with them (media.presenters.box_style). Images may also be data: or blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` to every response: pages, API, static files and the
    error pages (it is the outermost middleware). A response that set its own keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
