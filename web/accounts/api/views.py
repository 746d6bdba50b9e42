"""Exchange a username and password for an API token, or revoke the token in use."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from glassbox_web.problems import problem_response
from rest_framework import status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from .. import lockout
from ..authentication import ExpiringTokenAuthentication, issue_token
from .serializers import TokenSerializer


class LoginThrottle(AnonRateThrottle):
    """Token requests per client address (``GLASSBOX_TOKEN_THROTTLE_RATE``), counted in the
    shared database cache, so every web process counts together."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.TOKEN_THROTTLE_RATE


class TokenView(ObtainAuthToken):
    """``POST``: credentials in, token out (no authentication, throttled, refused while the
    username or address is locked out). ``DELETE``: revoke the token that authenticates it."""

    throttle_classes = [LoginThrottle]

    def get_authenticators(self):
        if getattr(self, "request", None) is not None and self.request.method == "DELETE":
            return [ExpiringTokenAuthentication()]
        return []  # a stale Authorization header must not stop a client obtaining a new token

    def get_permissions(self):
        if getattr(self, "request", None) is not None and self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="wrong username or password (a problem)"),
            429: OpenApiResponse(description="too many attempts, or a locked-out login"),
        },
        description=(
            "Exchange a username and password for the user's API token: the current one, or "
            "a new one once it expired (tokens last GLASSBOX_TOKEN_MAX_AGE_DAYS, 30 by "
            "default). Refused with 429 while the username or the client address is locked "
            "out after too many failed logins."
        ),
    )
    def post(self, request, *args, **kwargs):
        username = lockout.username_of(request.data)
        locked = lockout.current_lockout(username, lockout.client_address(request))
        if locked is not None:
            return problem_response(
                429,
                "login_locked",
                locked.message(),
                title="Too Many Requests",
                headers={"Retry-After": str(locked.retry_after_s())},
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        lockout.reset_username(user.get_username())
        return Response({"token": issue_token(user).key})

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="the token is revoked"),
            401: OpenApiResponse(description="no token, or an unknown or expired one"),
        },
        description="Revoke the API token that authenticates this request; it stops working.",
    )
    def delete(self, request, *args, **kwargs):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
