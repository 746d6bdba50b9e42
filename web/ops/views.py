"""The operators' pages (the dashboard, the health of every dependency) and ``/metrics``."""

from accounts.permissions import operator_required
from accounts.roles import OPERATOR, has_role
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import health, metrics

REFRESH_S = 3


@operator_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    context = {"refresh_s": REFRESH_S, "refresh_ms": REFRESH_S * 1000}
    return render(request, "ops/dashboard.html", context)


@operator_required
def health_page(request: HttpRequest) -> HttpResponse:
    context = {"checks": health.run_checks(), "pipeline": health.pipeline_status()}
    return render(request, "ops/health.html", context)


@login_not_required
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text: this web app's counters and the pipeline's state. For a scraper
    sending ``Authorization: Bearer $GLASSBOX_METRICS_TOKEN``, or a signed-in operator (a
    session, or an operator's API token: ``Authorization: Token …``). Anyone else: 401
    without credentials, 403 with a user who is not an operator."""
    allowed = metrics.token_matches(
        request.META.get("HTTP_AUTHORIZATION"), settings.OPS["METRICS_TOKEN"]
    ) or has_role(request.user, OPERATOR)
    if not allowed:
        if request.user.is_authenticated:
            return HttpResponse(
                "metrics are for operators\n", status=403, content_type="text/plain"
            )
        response = HttpResponse(
            "a bearer token or an operator's login is required\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(metrics.exposition(with_state=True), content_type=metrics.CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
