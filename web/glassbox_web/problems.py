"""RFC 7807 problem responses for every API error.

DRF's own exceptions, Django's 404/permission errors and the domain errors of the services
(bad uploads, unavailable inference or index, bad search queries) all leave the API as
``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``; validation
errors name the offending ``field``. Outside the views, the project's ``handler400``,
``handler404`` and ``handler500`` (:func:`bad_request`, :func:`not_found`,
:func:`server_error`) answer a problem too for a path under ``/api/`` (an unmatched URL, a
refused request body, a crash) and Django's HTML page elsewhere.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.triton import InferenceUnavailable
from glassbox.media.imaging import InvalidMedia
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://glassbox.invalid/problems/"


class Problem(exceptions.APIException):
    """An API error with a stable machine-readable code and, optionally, a field."""

    def __init__(self, status_code: int, code: str, detail: str, field: str | None = None):
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.field = field


class ProblemResponse(Response):
    """Always JSON, whatever renderer the view negotiated (the schema view prefers YAML)."""

    @property
    def rendered_content(self):
        self.accepted_renderer = JSONRenderer()
        self.accepted_media_type = "application/json"
        return super().rendered_content


def problem_response(
    status_code: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_body(status_code, code, detail, title=title, field=field)
    if extra:
        body.update(extra)
    return ProblemResponse(
        body, status=status_code, content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def problem_body(
    status_code: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title or _title(status_code),
        "status": status_code,
        "detail": detail,
    }
    if field:
        body["field"] = field
    return body


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _plain_problem(status_code: int, code: str, detail: str) -> HttpResponse:
    """A problem answered outside DRF (no renderer negotiation): plain JSON."""
    return JsonResponse(
        problem_body(status_code, code, detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: no URL matched (or a page raised Http404)."""
    if _is_api(request):
        return _plain_problem(404, "not_found", "There is no API endpoint at this address.")
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``: a request Django refused (a SuspiciousOperation, which DRF leaves to
    Django: form fields over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many fields or files)."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return _plain_problem(413, "too_large", _DATA_TOO_BIG)
        return _plain_problem(400, "bad_request", "The request could not be accepted.")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an unexpected error (Django has logged it)."""
    if _is_api(request):
        return _plain_problem(500, "server_error", "An unexpected error occurred.")
    return defaults.server_error(request)


_DATA_TOO_BIG = "The request's form fields are too large (files go in a file field)."


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidMedia):
        return problem_response(exc.status, exc.code, exc.detail, field="file")
    if isinstance(exc, InferenceUnavailable | IndexUnavailable):
        logger.warning("service unavailable during %s: %s", _view_name(context), exc)
        service = "inference" if isinstance(exc, InferenceUnavailable) else "search index"
        return problem_response(
            503,
            "service_unavailable",
            f"The {service} service is unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, Problem):
        return problem_response(exc.status_code, exc.problem_code, str(exc.detail), field=exc.field)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # unexpected: let Django log it and answer 500
    headers = {
        k: v for k, v in response.headers.items() if k in ("WWW-Authenticate", "Retry-After")
    }
    if isinstance(exc, exceptions.ValidationError):
        field, detail = _first_error(exc.detail)
        return problem_response(
            response.status_code,
            "invalid",
            detail,
            title="Invalid request",
            field=field,
            extra={"errors": exc.detail},
        )
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    return problem_response(response.status_code, str(code), str(exc.detail), headers=headers)


def _first_error(detail: Any, prefix: str = "") -> tuple[str | None, str]:
    """The first (field, message) of a nested DRF error structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            field, message = _first_error(value, name)
            if key == "non_field_errors":
                return None, message
            return field, message
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], prefix)
    return (prefix or None), str(detail)


def _title(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def _view_name(context: dict[str, Any]) -> str:
    view = context.get("view")
    return type(view).__name__ if view is not None else "request"


__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "Problem",
    "bad_request",
    "not_found",
    "problem_body",
    "problem_exception_handler",
    "problem_response",
    "server_error",
]
