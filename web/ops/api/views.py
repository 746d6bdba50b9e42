from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import health
from .serializers import HealthSerializer


class HealthView(APIView):
    """Liveness of the app's dependencies; 200 when all are ok, 503 otherwise. No auth."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        checks = health.run_checks()
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ok" if ok else "degraded", "checks": checks}
        return Response(body, status=200 if ok else 503, headers={"Cache-Control": "no-store"})
