"""The index's failures, split by what the caller should do, and the tests that classify a
pymilvus or gRPC error into them."""

from __future__ import annotations

COLLECTION_NOT_LOADED = 101  # Milvus error code of a read on a released collection
_UNAVAILABLE_HINTS = (
    "fail connecting",
    "unavailable",
    "deadline",
    "timeout",
    "timed out",
    "connection refused",
    "connect",
)


class IndexFailure(Exception):
    """The index rejected a request (bad schema, bad argument). Not retryable."""


class IndexUnavailable(IndexFailure):
    """Milvus cannot be reached or did not answer in time. Retryable."""


class IndexOutdated(IndexFailure):
    """The collection was made by an older schema; ``manage.py reindex`` rebuilds it."""


def is_not_loaded(exc: BaseException) -> bool:
    """Whether Milvus refused a read because the collection is not loaded (released)."""
    message = error_message(exc).lower()
    return getattr(exc, "code", None) == COLLECTION_NOT_LOADED or (
        "call load()" in message or "not loaded" in message
    )


def is_unavailable(exc: BaseException) -> bool:
    """Walk the cause chain for a transport failure (refused, timeout, gRPC UNAVAILABLE).

    pymilvus can chain an exception to itself (``__context__ is exc``), so each link is
    visited once; without that guard the walk never ends and the caller spins forever.
    """
    visited: set[int] = set()
    seen: BaseException | None = exc
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        if type(seen).__name__ == "MilvusUnavailableException":
            return True
        code = getattr(seen, "code", None)
        name = getattr(code() if callable(code) else code, "name", "")
        if name in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}:
            return True
        if any(hint in error_message(seen).lower() for hint in _UNAVAILABLE_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_client_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from pymilvus or gRPC (rather than from a bug of ours)."""
    return type(exc).__module__.startswith(("pymilvus", "grpc"))


def error_message(exc: BaseException) -> str:
    """The message of a MilvusException (its ``message``), or of any other exception."""
    return str(getattr(exc, "message", None) or exc)
