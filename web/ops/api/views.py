from __future__ import annotations

from accounts.permissions import IsOperator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from glassbox.clients.triton import InferenceUnavailable
from glassbox_web.problems import Problem
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import actions, dashboard, health
from .serializers import (
    DashboardSerializer,
    HealthDetailSerializer,
    HealthSerializer,
    ReprocessRequestSerializer,
    ReprocessStartedSerializer,
    RetryRequestSerializer,
    RetryResultSerializer,
)

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


WATCH_PARAMETER = OpenApiParameter(
    "watch",
    str,
    required=False,
    description="comma-separated item ids whose status to include (at most 50), e.g. the "
    "items just retried from the dashboard",
)


def _watch_ids(raw: str | None) -> list[int]:
    if not raw:
        return []
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        ids = [-1]
    if any(i < 1 for i in ids) or len(ids) > dashboard.MAX_WATCH:
        raise Problem(
            400,
            "invalid_watch",
            f"watch must be up to {dashboard.MAX_WATCH} comma-separated item ids",
            field="watch",
        )
    return ids


class DashboardView(APIView):
    """The operators' dashboard as JSON: queues, workers, throughput, time per stage,
    failures by reason, items to re-index, Triton's per-model statistics and Milvus. A
    section whose dependency is down carries ``error`` and nothing else."""

    permission_classes = [IsOperator]

    @extend_schema(parameters=[WATCH_PARAMETER], responses={200: DashboardSerializer})
    def get(self, request: Request) -> Response:
        watch = _watch_ids(request.query_params.get("watch"))
        return Response(dashboard.snapshot(watch), headers=NO_STORE)


class RetryView(APIView):
    """Queue failed items again, by id or all those failed with one reason (at most 500 a
    call); items that are not failed any more are skipped, not refused."""

    permission_classes = [IsOperator]

    @extend_schema(request=RetryRequestSerializer, responses={200: RetryResultSerializer})
    def post(self, request: Request) -> Response:
        body = RetryRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        retried, skipped = actions.retry_failed(
            request.user,
            ids=body.validated_data.get("ids"),
            reason=body.validated_data.get("reason"),
        )
        return Response({"retried": retried, "skipped": skipped}, headers=NO_STORE)


class ReprocessView(APIView):
    """Reprocess items analysed by older versions, in the background: ``{"ids": [...]}`` or
    ``{"all": true}`` (every such item, at most 5000 a run). Items that are up to date, not
    ready or gone are left out; 409 if none is left. The run's progress is in the
    dashboard's ``reprocess`` section. Jobs go to the ``reprocess`` queue, which the analyze
    pool reads only when no upload waits."""

    permission_classes = [IsOperator]

    @extend_schema(
        request=ReprocessRequestSerializer,
        responses={
            202: ReprocessStartedSerializer,
            409: OpenApiResponse(description="none of the items is ready and outdated"),
            503: OpenApiResponse(description="Triton cannot say its models' versions"),
        },
    )
    def post(self, request: Request) -> Response:
        from media import reprocess

        body = ReprocessRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = reprocess.start(request.user, ids=body.validated_data.get("ids"))
        except reprocess.NothingToReprocess as exc:
            raise Problem(409, "nothing_to_reprocess", str(exc)) from exc
        except InferenceUnavailable as exc:
            raise Problem(
                503,
                "versions_unavailable",
                "the current versions cannot be read: Triton does not answer, or a model "
                "is not ready",
            ) from exc
        p = reprocess.progress(run)
        answer = {
            "id": run.pk,
            "created": run.created,
            "finished": run.finished,
            "target_fingerprint": run.target_fingerprint,
            "current": True,
            "total": p.total,
            "done": p.done,
            "failed": p.failed,
            "gone": p.gone,
            "pending": p.pending,
        }
        data = ReprocessStartedSerializer({"run": answer}).data
        return Response(data, status=202, headers=NO_STORE)
