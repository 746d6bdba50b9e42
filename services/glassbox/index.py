"""The vector index of media items, in Milvus (a ``milvus-lite server``, standalone or cluster).

Rows are keyed by the database's ``MediaItem`` primary key, so writing an item twice (a
retried task) replaces it. Privacy is enforced by Milvus itself: every search carries the
filter ``owner_id == viewer or is_public == true``, so a private vector never leaves the
index for anyone but its owner.

The client is created on first use, never at import; call ``reset()`` after a fork (Celery's
``worker_process_init``). Never point several processes at a Lite ``.db`` path: Lite locks
its data directory, so production connects to ``milvus-lite server`` over ``http://``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from pymilvus import MilvusClient

T = TypeVar("T")

_INDEX_PARAMS: dict[str, dict[str, int]] = {
    "FLAT": {},
    "HNSW": {"M": 16, "efConstruction": 200},
}
_UNAVAILABLE_HINTS = (
    "fail connecting",
    "unavailable",
    "deadline",
    "timeout",
    "timed out",
    "connection refused",
    "connect",
)


_COLLECTION_NOT_LOADED = 101  # Milvus error code of a read on a released collection


class IndexFailure(Exception):
    """The index rejected a request (bad schema, bad argument). Not retryable."""


class IndexUnavailable(IndexFailure):
    """Milvus cannot be reached or did not answer in time. Retryable."""


@dataclass(frozen=True)
class IndexRow:
    id: int  # the MediaItem's primary key
    vector: np.ndarray | Sequence[float]  # unit length
    owner_id: int
    is_public: bool
    kind: str  # "image", "video", ... (at most 16 characters)
    created: int  # unix seconds


@dataclass(frozen=True)
class Hit:
    id: int
    score: float  # inner product = cosine, since vectors are unit length


class MediaIndex:
    def __init__(
        self,
        uri: str,
        collection: str,
        dim: int = 384,
        timeout: float = 10.0,
        index_type: str = "FLAT",
    ) -> None:
        if index_type not in _INDEX_PARAMS:
            raise ValueError(
                f"index_type must be one of {sorted(_INDEX_PARAMS)}, got {index_type!r}"
            )
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.timeout = timeout
        self.index_type = index_type
        self._client: MilvusClient | None = None

    def reset(self) -> None:
        """Forget the connection (after a fork); the next call opens a new one."""
        self._client = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    def ensure(self) -> None:
        """Create the collection and its index if missing, and load it for search."""

        def run(client: MilvusClient) -> None:
            if not client.has_collection(self.collection, timeout=self.timeout):
                try:
                    client.create_collection(
                        self.collection,
                        schema=self._schema(),
                        index_params=self._index_params(client),
                        timeout=self.timeout,
                    )
                except Exception:
                    # another process may have created it between our check and our create
                    if not client.has_collection(self.collection, timeout=self.timeout):
                        raise
            client.load_collection(self.collection, timeout=self.timeout)

        self._call(run)

    def drop(self) -> None:
        """Delete the collection and every row in it (tests, full re-index)."""

        def run(client: MilvusClient) -> None:
            if client.has_collection(self.collection, timeout=self.timeout):
                client.drop_collection(self.collection, timeout=self.timeout)

        self._call(run)

    def upsert(self, rows: Iterable[IndexRow]) -> None:
        data = [self._row(r) for r in rows]
        if data:
            self._call(lambda c: c.upsert(self.collection, data, timeout=self.timeout))

    def delete(self, ids: Iterable[int]) -> None:
        keys = [int(i) for i in ids]
        if keys:
            self._call(lambda c: c.delete(self.collection, ids=keys, timeout=self.timeout))

    def set_visibility(self, item_id: int, is_public: bool) -> bool:
        """Change one row's visibility; False if the row is not indexed.

        Milvus has no partial update here, so the row is read back and upserted whole.
        """
        found = self._call(
            lambda c: c.get(
                self.collection, ids=[int(item_id)], output_fields=["*"], timeout=self.timeout
            )
        )
        if not found:
            return False
        row: dict[str, Any] = dict(found[0])
        row["is_public"] = bool(is_public)
        self._call(lambda c: c.upsert(self.collection, [row], timeout=self.timeout))
        return True

    def search(
        self, vector: np.ndarray | Sequence[float], limit: int, viewer_id: int | None
    ) -> list[Hit]:
        """Nearest items by inner product that ``viewer_id`` may see (public ones if None)."""
        query = self._vector(vector)
        visible = "is_public == true"
        if viewer_id is not None:
            visible = f"owner_id == {int(viewer_id)} or {visible}"
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.index_type == "HNSW":
            params["params"] = {"ef": max(64, limit)}
        results = self._call(
            lambda c: c.search(
                self.collection,
                data=[query],
                filter=visible,
                limit=limit,
                output_fields=["owner_id"],
                search_params=params,
                timeout=self.timeout,
            )
        )
        return [Hit(id=int(h["id"]), score=float(h["distance"])) for h in results[0]]

    def flush(self) -> None:
        """Seal pending writes (unflushed rows are slow to search in Lite)."""
        self._call(lambda c: c.flush(self.collection, timeout=self.timeout))

    def count(self) -> int:
        rows = self._call(
            lambda c: c.query(
                self.collection, filter="", output_fields=["count(*)"], timeout=self.timeout
            )
        )
        return int(rows[0]["count(*)"])

    def health(self) -> tuple[bool, str]:
        """(ok, one line for a status page); never raises."""
        try:
            exists = self._call(lambda c: c.has_collection(self.collection, timeout=self.timeout))
        except IndexFailure as exc:
            return False, str(exc)
        if not exists:
            return False, f"collection {self.collection!r} does not exist at {self.uri}"
        return True, f"collection {self.collection!r} at {self.uri}"

    # -- internals -------------------------------------------------------------------------

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
                if not _is_not_loaded(exc):
                    raise
                # A restarted Milvus Lite server keeps its data but comes back with every
                # collection released: load it again and repeat the call once.
                self._connect().load_collection(self.collection, timeout=self.timeout)
                return fn(self._connect())
        except IndexFailure:
            raise
        except Exception as exc:  # pymilvus wraps gRPC errors in MilvusException
            if _is_unavailable(exc):
                self.reset()
                raise IndexUnavailable(
                    f"Milvus at {self.uri} is unavailable: {_message(exc)}"
                ) from exc
            if type(exc).__module__.startswith(("pymilvus", "grpc")):
                raise IndexFailure(_message(exc)) from exc
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
                grpc_options={"grpc.keepalive_permit_without_calls": False},
            )
        return self._client

    def _schema(self) -> Any:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("owner_id", DataType.INT64)
        schema.add_field("is_public", DataType.BOOL)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("created", DataType.INT64)
        return schema

    def _index_params(self, client: MilvusClient) -> Any:
        params = client.prepare_index_params()
        params.add_index(
            field_name="vector",
            index_type=self.index_type,
            metric_type="IP",
            params=_INDEX_PARAMS[self.index_type],
        )
        params.add_index(field_name="owner_id", index_type="INVERTED")
        return params

    def _row(self, row: IndexRow) -> dict[str, Any]:
        if len(row.kind) > 16:
            raise ValueError(f"kind {row.kind!r} is longer than 16 characters")
        return {
            "id": int(row.id),
            "vector": self._vector(row.vector),
            "owner_id": int(row.owner_id),
            "is_public": bool(row.is_public),
            "kind": row.kind,
            "created": int(row.created),
        }

    def _vector(self, vector: np.ndarray | Sequence[float]) -> list[float]:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise ValueError(f"expected a {self.dim}-d vector, got {v.shape[0]}")
        return v.tolist()


def _is_not_loaded(exc: BaseException) -> bool:
    """Whether Milvus refused a read because the collection is not loaded (released)."""
    message = _message(exc).lower()
    return getattr(exc, "code", None) == _COLLECTION_NOT_LOADED or (
        "call load()" in message or "not loaded" in message
    )


def _is_unavailable(exc: BaseException) -> bool:
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
        if any(hint in _message(seen).lower() for hint in _UNAVAILABLE_HINTS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)
