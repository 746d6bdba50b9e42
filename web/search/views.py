from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from glassbox.index import IndexUnavailable
from glassbox.inference import InferenceUnavailable

from . import engine

logger = logging.getLogger(__name__)


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("q")
    context: dict = {"query": (raw or "").strip(), "results": None, "error": None}
    status = 200
    if raw is not None:
        try:
            context["results"] = engine.search(request.user, raw, engine.DEFAULT_LIMIT)
        except engine.SearchQueryError as exc:
            context["error"], status = exc.detail, 400
        except (InferenceUnavailable, IndexUnavailable) as exc:
            logger.warning("search unavailable: %s", exc)
            context["error"], status = "Search is unavailable right now; try again shortly.", 503
    return render(request, "search/search.html", context, status=status)
