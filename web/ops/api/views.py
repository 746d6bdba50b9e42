from __future__ import annotations

from accounts.permissions import IsOperator
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import health
from .serializers import HealthDetailSerializer, HealthSerializer

NO_STORE = {"Cache-Control": "no-store"}


class HealthView(APIView):
    """Up or down, for probes and load balancers: 200 ``{"status": "ok"}`` when every
    dependency answers, 503 ``{"status": "down"}`` otherwise. No auth, and no detail: which
    dependency failed, and how, is in ``health/detail/`` (operators)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        ok = health.all_ok(health.run_checks())
        body = {"status": "ok" if ok else "down"}
        return Response(body, status=200 if ok else 503, headers=NO_STORE)


class HealthDetailView(APIView):
    """Every dependency's check (ok, detail, latency) and the pipeline (workers alive, the
    oldest lapsed lease, the outbox, the last index check), for operators; 200 when all are
    ok, 503 ``degraded`` otherwise (a dependency down, no worker alive, or an item stranded)."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: HealthDetailSerializer, 503: HealthDetailSerializer})
    def get(self, request: Request) -> Response:
        checks = health.run_checks()
        pipeline = health.pipeline_status()
        ok = health.all_ok(checks) and health.pipeline_ok(pipeline)
        body = {"status": "ok" if ok else "degraded", "checks": checks, "pipeline": pipeline}
        return Response(body, status=200 if ok else 503, headers=NO_STORE)
