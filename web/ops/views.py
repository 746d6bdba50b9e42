"""The operators' pages: the health of every dependency."""

from accounts.permissions import operator_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import health


@operator_required
def health_page(request: HttpRequest) -> HttpResponse:
    context = {"checks": health.run_checks(), "pipeline": health.pipeline_status()}
    return render(request, "ops/health.html", context)
