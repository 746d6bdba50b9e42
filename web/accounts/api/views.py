"""Exchange a username and password for an API token."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.throttling import AnonRateThrottle

from .serializers import TokenSerializer


class LoginThrottle(AnonRateThrottle):
    rate = "30/min"


class TokenView(ObtainAuthToken):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginThrottle]

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
