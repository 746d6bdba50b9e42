"""The connection to one Milvus collection: opened lazily, retried once when stale, its
errors translated into ``errors.IndexFailure`` and ``errors.IndexUnavailable``.

The client is created on first use, never at import; call ``reset()`` after a fork (Celery's
``worker_process_init``). Never point several processes at a Lite ``.db`` path: Lite locks
its data directory, so production connects to ``milvus-lite server`` over ``http://``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from glassbox.clients.milvus.errors import (
    IndexFailure,
    IndexUnavailable,
    error_message,
    is_client_error,
    is_not_loaded,
    is_unavailable,
)

if TYPE_CHECKING:
    from pymilvus import MilvusClient

T = TypeVar("T")


class CollectionConnection:
    """Runs calls on a pymilvus client of ``uri``, for the collection ``collection``."""

    def __init__(self, uri: str, collection: str, timeout: float) -> None:
        self.uri = uri
        self.collection = collection
        self.timeout = timeout
        self._client: MilvusClient | None = None

    def reset(self) -> None:
        """Forget the connection (after a fork); the next call opens a new one."""
        self._client = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def _call(self, fn: Callable[[MilvusClient], T]) -> T:
        """Run ``fn`` on the client. A channel that went stale while idle (the server sends
        GOAWAY "too_many_pings" to pymilvus's keep-alive pings) fails once with UNAVAILABLE;
        so an unavailable error on a client that had been connected is retried once on a
        fresh client. Every operation here is idempotent, so the retry is safe."""
        had_client = self._client is not None
        try:
            return self._call_once(fn)
        except IndexUnavailable:
            if not had_client:
                raise
            return self._call_once(fn)

    def _call_once(self, fn: Callable[[MilvusClient], T]) -> T:
        try:
            try:
                return fn(self._connect())
            except Exception as exc:
                if not is_not_loaded(exc):
                    raise
                # A restarted Milvus Lite server keeps its data but comes back with every
                # collection released: load it again and repeat the call once.
                self._connect().load_collection(self.collection, timeout=self.timeout)
                return fn(self._connect())
        except IndexFailure:
            raise
        except Exception as exc:  # pymilvus wraps gRPC errors in MilvusException
            if is_unavailable(exc):
                self.reset()
                raise IndexUnavailable(
                    f"Milvus at {self.uri} is unavailable: {error_message(exc)}"
                ) from exc
            if is_client_error(exc):
                raise IndexFailure(error_message(exc)) from exc
            raise

    def _connect(self) -> MilvusClient:
        if self._client is None:
            from pymilvus import MilvusClient

            # pymilvus pings every 10 s even when idle; Milvus (Lite's gRPC server included)
            # answers an idle client's pings with GOAWAY "too_many_pings", which breaks the
            # shared channel for the next call (seen: the first search after a quiet minute
            # failed). Ping only while calls are in flight.
            self._client = MilvusClient(
                uri=self.uri,
                timeout=self.timeout,
                # and ping rarely during a call: a long one (loading 100k rows took 138 s)
                # drew GOAWAY "too_many_pings" at the default 10 s
                grpc_options={
                    "grpc.keepalive_permit_without_calls": False,
                    "grpc.keepalive_time_ms": 300_000,
                },
            )
        return self._client
