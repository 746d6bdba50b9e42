"""The search page: text search with filters, "find similar" from an item, query by image.

Every result carries its evidence: the query heat map over the thumbnail, the channels that
matched, the caption phrase or read line with its box, and the words that matched nothing.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.triton import InferenceUnavailable
from glassbox.media.imaging import InvalidMedia
from media.presenters import box_style

from . import engine, records
from .api.views import read_upload
from .params import SearchOptions, SearchQueryError, parse_options

logger = logging.getLogger(__name__)
UNAVAILABLE = "Search is unavailable right now; try again shortly."


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    params = request.GET
    raw_q, similar_to = params.get("q"), params.get("similar")
    if raw_q is None and not similar_to:
        return render(request, "search/search.html", _context(params))

    def run(options: SearchOptions) -> tuple[engine.SearchPage, dict | None]:
        if similar_to:
            item_id = _item_id(similar_to)
            shot = params.get("shot")
            if shot:  # a moment of a video: similar shots and images
                number = _shot(shot)
                source = records.source_from_shot(request.user, item_id, number)
                base = {"similar": str(item_id), "shot": str(number)}
                return engine.similar(request.user, source, options), base
            source = records.source_from_item(request.user, item_id)
            return engine.similar(request.user, source, options), {"similar": str(item_id)}
        page = engine.search(request.user, raw_q, options)
        return page, {"q": page.query}

    return _searched(request, params, run, "search")


@require_POST
def by_image_page(request: HttpRequest) -> HttpResponse:
    """Query by image from the page: the file is checked like an upload, never stored."""
    upload = request.FILES.get("file")

    def run(options: SearchOptions) -> tuple[engine.SearchPage, dict | None]:
        if upload is None:
            raise SearchQueryError("Choose an image to search with.", field="file")
        source = records.source_from_upload(read_upload(upload), upload.name or "")
        return engine.similar(request.user, source, options), None

    return _searched(request, request.POST, run, "search by image")


def _searched(request: HttpRequest, params, run, what: str) -> HttpResponse:
    """The page for ``run(options)`` (the search page and the links that keep it, ``None``
    for an upload); a problem is shown on the form, with the values as typed."""
    context = _context(params)
    status = 200
    try:
        options = parse_options(params, limit=False)
        context["filters"] = options.filters
        page, base = run(options)
        context.update(_page_context(page, base, options))
    except InvalidMedia as exc:
        context["error"], context["error_field"], status = exc.detail, "file", exc.status
    except SearchQueryError as exc:
        context["error"], context["error_field"], status = exc.detail, exc.field, exc.status
    except (InferenceUnavailable, IndexUnavailable) as exc:
        logger.warning("%s unavailable: %s", what, exc)
        context["error"], status = UNAVAILABLE, 503
    return render(request, "search/search.html", context, status=status)


def _shot(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SearchQueryError("shot must be a shot number (0 or more)", field="shot")
    return value


def _item_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise SearchQueryError("similar must be an item id", field="similar") from exc


def _context(params) -> dict:
    """What the form shows: the values as typed, so a rejected search can be corrected."""
    return {
        "query": (params.get("q") or "").strip(),
        "form": {
            name: (params.get(name) or "").strip()
            for name in ("kind", "owner", "from", "to", "tag", "flagged", "sort")
        },
        "page": None,
        "error": None,
        "error_field": None,
    }


def _page_context(page: engine.SearchPage, base: dict | None, options: SearchOptions) -> dict:
    """The page and its links (other pages, weaker matches) keeping query and filters."""

    def link(**changes) -> str | None:
        if base is None:
            return None  # an uploaded image cannot be linked to; the form must be sent again
        params = {**base, **options.filters.as_params()}
        if options.sort != "relevance":
            params["sort"] = options.sort
        if options.weaker:
            params["weaker"] = "true"
        params.update({k: v for k, v in changes.items() if v is not None})
        params = {k: v for k, v in params.items() if v not in ("", False)}
        return "?" + urlencode(params)

    rows = [
        {
            "r": r,
            "channels": [
                {"c": c, "styles": [s for s in (box_style(b) for b in c.boxes) if s]}
                for c in r.channels
            ],
        }
        for r in page.results
    ]
    return {
        "page": page,
        "rows": rows,
        "start": (page.page - 1) * page.limit + 1,
        "next_url": link(page=str(page.page + 1)) if page.has_next else None,
        "prev_url": link(page=str(page.page - 1) if page.page > 2 else "")
        if page.page > 1
        else None,
        "weaker_url": link(weaker="true", page="") if page.hidden and not page.weaker else None,
        "stronger_url": link(weaker="", page="") if page.weaker else None,
    }
