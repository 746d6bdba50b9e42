"""The OpenAPI schema's error answers: every operation documents the problem documents
(``application/problem+json``, :mod:`glassbox_web.problems`) it can answer.

Most follow from how the view is configured, and :class:`ProblemAutoSchema` (DRF's
``DEFAULT_SCHEMA_CLASS``) adds them to every operation:

======  =====================================================================================
status  documented when
======  =====================================================================================
400     the operation takes a request body or declared query parameters (validation)
401     the view authenticates and not every caller is allowed (no, an unknown or expired token)
403     an unsafe method under session authentication (CSRF), or a permission beyond
        "signed in" that can refuse the method (a role, "only the owner")
404     the path names an object (``{id}``), or the list is paginated (a page past the end)
413     a request body (Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``; an upload over the limit)
415     a request body (an unsupported content type; an upload that is not an image)
429     the view is throttled
======  =====================================================================================

The rest are domain answers a view declares itself, with :func:`problems` in its
``extend_schema(responses=...)``: 409 (retry of an item that has not failed), 503 (Triton or
Milvus unavailable). A response the view already documents keeps its description, and gets
the problem body when it had none.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication

from .problems import PROBLEM_CONTENT_TYPE

PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 429, 503)
ALWAYS_ALLOWED = (permissions.AllowAny, permissions.IsAuthenticated)


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document, as every API error answers."""

    type = serializers.CharField(help_text="a URI naming the problem, stable for machines")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="one sentence for people")
    field = serializers.CharField(required=False, help_text="the offending parameter or field")
    errors = serializers.JSONField(required=False, help_text="validation: every field's errors")


def problems(*statuses: int) -> dict:
    """``extend_schema(responses=...)`` entries for problem answers with these statuses."""
    return {(status, PROBLEM_CONTENT_TYPE): ProblemSerializer for status in statuses}


def refuses(permission, method: str) -> bool:
    """Whether a permission can refuse a signed-in caller this method. A permission class
    that never refuses safe methods says so with ``refuses_safe_methods = False``."""
    if isinstance(permission, ALWAYS_ALLOWED):
        return False
    if method in permissions.SAFE_METHODS:
        return getattr(permission, "refuses_safe_methods", True)
    return True


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the problem answers each operation can give."""

    def problem_statuses(self) -> set[int]:
        view, method = self.view, self.method
        perms = view.get_permissions()
        authenticated = bool(view.get_authenticators()) and not all(
            isinstance(p, permissions.AllowAny) for p in perms
        )
        has_body = method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        statuses: set[int] = set()
        if has_body or self.get_override_parameters():
            statuses.add(400)
        if authenticated:
            statuses.add(401)
            session = any(isinstance(a, SessionAuthentication) for a in view.get_authenticators())
            unsafe = method not in permissions.SAFE_METHODS
            if (session and unsafe) or any(refuses(p, method) for p in perms):
                statuses.add(403)
        paginated = self._is_list_view() and getattr(view, "pagination_class", None) is not None
        if "{" in self.path or paginated:
            statuses.add(404)
        if has_body:
            statuses |= {413, 415}
        if view.get_throttles():
            statuses.add(429)
        return statuses

    def _get_response_bodies(self, direction="response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status in sorted(self.problem_statuses()):
            code = str(status)
            documented = self._get_response_for_code(
                ProblemSerializer, code, [PROBLEM_CONTENT_TYPE], direction
            )
            if code not in responses:
                responses[code] = documented
            elif not responses[code].get("content"):
                responses[code]["content"] = documented["content"]
        return dict(sorted(responses.items()))


__all__ = ["PROBLEM_STATUSES", "ProblemAutoSchema", "ProblemSerializer", "problems"]
