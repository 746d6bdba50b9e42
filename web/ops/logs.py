"""Logs an operator can follow: one JSON object a line, carrying what the process works on.

Web and workers log through :class:`JsonFormatter` (``GLASSBOX_LOG_FORMAT=json``, the
default) or :class:`PlainFormatter` (``plain``). Both add the fields bound in the current
context (:func:`bound`):

- the web binds ``request_id`` for each request (:class:`RequestLogMiddleware`, from a valid
  ``X-Request-ID`` or a new one, echoed in the response);
- a task sent to the broker carries that ``request_id`` in a message header
  (``ops.signals``), and its ``task sent`` line names the task, its id and the item id;
- a worker binds ``task_id``, ``task``, ``stage`` (the queue), ``item_id`` and the sender's
  ``request_id`` while a task runs,

so ``grep '"item_id": 42'`` (or the request id) follows one upload from its request through
the analysis to the index.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("ops.requests")

_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "glassbox_log_context", default=None
)
# the attributes every LogRecord has: anything else on a record came from ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current() -> dict[str, Any]:
    """The fields bound in this context (a copy)."""
    return dict(_CONTEXT.get() or {})


def bind(**fields: Any) -> contextvars.Token:
    """Add ``fields`` to the context (``None`` values are dropped); :func:`unbind` undoes it."""
    merged = {**current(), **{k: v for k, v in fields.items() if v is not None}}
    return _CONTEXT.set(merged)


def unbind(token: contextvars.Token) -> None:
    _CONTEXT.reset(token)


def clear() -> None:
    """Drop every bound field (a worker's next task starts clean)."""
    _CONTEXT.set(None)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context's fields, then the record's ``extra=`` fields."""
    extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}
    return {**current(), **extra}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...context, ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        out: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        out.update(_fields(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """The classic line, with the context's fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if fields:
            line += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return line


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a short token, else a new one."""
    if header and REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Binds a request id for the request's logs, logs one ``request`` line per request
    (method, route, status, duration, user id; no query string: it may hold a search), and
    answers with ``X-Request-ID``. Static files are served without a line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        token = bind(request_id=request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response.headers["X-Request-ID"] = request_id
            if not request.path_info.startswith(settings.STATIC_URL):
                user = getattr(request, "user", None)
                logger.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path_info,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "user_id": user.pk if user is not None and user.is_authenticated else None,
                    },
                )
            return response
        finally:
            unbind(token)
