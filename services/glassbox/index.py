"""The vector index of media items, in Milvus (a ``milvus-lite server``, standalone or cluster).

Rows are keyed by the database's ``MediaItem`` primary key, so writing an item twice (a
retried task) replaces it. Privacy is enforced by Milvus itself: every search carries the
filter ``owner_id == viewer or is_public == true``, so a private vector never leaves the
index for anyone but its owner. Search filters (kind, owner, date, tag, flagged) are added to
that expression: they run inside Milvus, never in Python afterwards.

One row holds four searchable channels:

- ``semantic``: the ConSE vector (384-d, in the text space), searched with a text query;
- ``appearance``: the backbone's pooled features, unit length, for "find similar";
- ``caption`` / ``ocr``: stemmed words (``glassbox.lexical``) that Milvus turns into BM25
  sparse vectors by a schema function, for the lexical channels.

An approximate index (HNSW) loses recall when a filter keeps only a few rows, because the graph
walk meets too few of them (measured: recall@10 0.84 for a user owning 0.5% of 100k rows at
ef 64). The search breadth ``hnsw_ef`` is the fix: its default was chosen by
``bench/hnsw_sweep.py`` so that such a filter keeps recall@10 >= 0.95 (docs/search.md).
``exact_below`` (off by default) adds a second fix: an HNSW search first asks for the ids its
filter keeps, at most ``exact_below`` + 1 of them, and scores them exactly when there are no
more than ``exact_below``. It makes recall 1, but Milvus Lite answers that ids query at about
0.25 ms per returned row (0.55-0.63 s at 50k-100k rows, ``bench/milvus_filters.py``), on every
search, several times the search itself; so it is there for deployments that need exactness.

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

SCHEMA_VERSION = 3  # bump when the fields change; an older collection must be rebuilt
VECTOR_FIELDS = ("semantic", "appearance")
TEXT_FIELDS = ("caption", "ocr")
MAX_TAGS = 64  # concept ids per row (tags and their broader concepts)
TAG_IDS_LENGTH = 1 + MAX_TAGS * 12  # " 12 345 ... " with room for any int64 id
INDEX_TYPES = ("FLAT", "HNSW")
DEFAULT_HNSW_EF = 512  # bench/hnsw_sweep.py and tests/integration/test_search_scale.py
DEFAULT_EXACT_BELOW = 0  # off: see the module docstring
_EXACT_CHUNK = 500  # vectors read back per call when scoring exactly
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


class IndexOutdated(IndexFailure):
    """The collection was made by an older schema; ``manage.py reindex`` rebuilds it."""


@dataclass(frozen=True)
class IndexRow:
    id: int  # the MediaItem's primary key
    vector: np.ndarray | Sequence[float]  # the semantic vector, unit length
    owner_id: int
    is_public: bool
    kind: str  # "image", "video", ... (at most 16 characters)
    created: int  # unix seconds
    appearance: np.ndarray | Sequence[float] | None = None  # unit length; None: zeros
    flagged: bool = False
    tags: Sequence[int] = ()  # concept ids: the item's tags and their broader concepts
    caption: str = ""  # stems (glassbox.lexical.index_text)
    ocr: str = ""


@dataclass(frozen=True)
class Filters:
    """What a search may return, besides the privacy rule. Empty fields do not filter."""

    kind: str | None = None
    owner: str = "any"  # "any", "mine" or "public"
    created_from: int | None = None  # unix seconds, inclusive
    created_to: int | None = None  # unix seconds, exclusive
    tags: tuple[int, ...] = ()  # concept ids (leaf or broader); a row needs any one of them
    flagged: bool | None = None

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def expr(self, viewer_id: int | None) -> str:
        """The Milvus boolean expression: privacy first, then each filter."""
        visible = "is_public == true"
        if viewer_id is not None:
            visible = f"(owner_id == {int(viewer_id)} or is_public == true)"
        parts = [visible]
        if self.owner == "mine":
            parts = [f"owner_id == {int(viewer_id) if viewer_id is not None else -1}"]
        elif self.owner == "public":
            parts = ["is_public == true"]
        elif self.owner != "any":
            raise ValueError(f"owner must be any, mine or public, got {self.owner!r}")
        if self.kind is not None:
            if not self.kind.isalnum():
                raise ValueError(f"kind must be a word, got {self.kind!r}")
            parts.append(f'kind == "{self.kind}"')
        if self.created_from is not None:
            parts.append(f"created >= {int(self.created_from)}")
        if self.created_to is not None:
            parts.append(f"created < {int(self.created_to)}")
        if self.tags:
            # any of the ids, as whole words of the row's ``tag_ids`` text (see ``_row``)
            wanted = " or ".join(f'tag_ids like "% {int(t)} %"' for t in dict.fromkeys(self.tags))
            parts.append(f"({wanted})")
        if self.flagged is not None:
            parts.append(f"flagged == {'true' if self.flagged else 'false'}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Hit:
    id: int
    score: float  # inner product = cosine for the vector channels; BM25 for the text ones


class MediaIndex:
    def __init__(
        self,
        uri: str,
        collection: str,
        dim: int = 384,
        timeout: float = 10.0,
        index_type: str = "FLAT",
        appearance_dim: int = 1280,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 200,
        hnsw_ef: int = DEFAULT_HNSW_EF,
        exact_below: int = DEFAULT_EXACT_BELOW,
    ) -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {index_type!r}")
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.appearance_dim = appearance_dim
        self.timeout = timeout
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef = hnsw_ef
        self.exact_below = exact_below
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
            else:
                self._check_schema(client)
            client.load_collection(self.collection, timeout=self.timeout)

        self._call(run)

    def _check_schema(self, client: MilvusClient) -> None:
        info = client.describe_collection(self.collection, timeout=self.timeout)
        names = {f["name"] for f in info.get("fields", [])}
        missing = {"semantic", "appearance", "tag_ids", "flagged", "caption", "ocr"} - names
        if missing:
            raise IndexOutdated(
                f"collection {self.collection!r} at {self.uri} was made by an older Glassbox "
                f"(no {', '.join(sorted(missing))}); rebuild it with `web/manage.py reindex`"
            )

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
        row: dict[str, Any] = {
            k: v for k, v in dict(found[0]).items() if not str(k).endswith("_sparse")
        }
        row["is_public"] = bool(is_public)
        self._call(lambda c: c.upsert(self.collection, [row], timeout=self.timeout))
        return True

    def search(
        self,
        vector: np.ndarray | Sequence[float],
        limit: int,
        viewer_id: int | None,
        filters: Filters | None = None,
        field: str = "semantic",
        offset: int = 0,
    ) -> list[Hit]:
        """Nearest items by inner product on ``field`` that ``viewer_id`` may see (public ones if
        None) and that pass ``filters``. With ``exact_below`` > 0, a filter that keeps at most
        that many rows is answered by exact scoring."""
        if field not in VECTOR_FIELDS:
            raise ValueError(f"field must be one of {VECTOR_FIELDS}, got {field!r}")
        query = self._vector(vector, self.dim if field == "semantic" else self.appearance_dim)
        filters = filters or Filters()
        expr = filters.expr(viewer_id)
        if self.index_type != "FLAT" and self.exact_below > 0:
            few = self._ids_if_few(expr)
            if few is not None:
                return self._exact(query, few, field, limit, offset)
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.index_type == "HNSW":
            params["params"] = {"ef": max(self.hnsw_ef, limit + offset)}
        results = self._call(
            lambda c: c.search(
                self.collection,
                data=[query],
                anns_field=field,
                filter=expr,
                limit=limit,
                offset=offset,
                output_fields=["id"],
                search_params=params,
                timeout=self.timeout,
            )
        )
        return [Hit(id=int(h["id"]), score=float(h["distance"])) for h in results[0]]

    def search_text(
        self,
        terms: str,
        field: str,
        limit: int,
        viewer_id: int | None,
        filters: Filters | None = None,
    ) -> list[Hit]:
        """BM25 matches of ``terms`` (stems, see ``glassbox.lexical``) in the ``caption`` or
        ``ocr`` channel; only rows sharing a word come back. Scores are positive, larger is
        better."""
        if field not in TEXT_FIELDS:
            raise ValueError(f"field must be one of {TEXT_FIELDS}, got {field!r}")
        if not terms.strip():
            return []
        expr = (filters or Filters()).expr(viewer_id)
        results = self._call(
            lambda c: c.search(
                self.collection,
                data=[terms],
                anns_field=f"{field}_sparse",
                filter=expr,
                limit=limit,
                output_fields=["id"],
                search_params={"metric_type": "BM25"},
                timeout=self.timeout,
            )
        )
        # Milvus Lite reports BM25 as a negative distance; standalone as a positive score.
        return [Hit(id=int(h["id"]), score=abs(float(h["distance"]))) for h in results[0]]

    def vectors(self, ids: Iterable[int], field: str = "semantic") -> dict[int, np.ndarray]:
        """Stored vectors by id (missing ids are absent)."""
        keys = [int(i) for i in ids]
        if not keys:
            return {}
        rows = self._call(
            lambda c: c.get(
                self.collection, ids=keys, output_fields=["id", field], timeout=self.timeout
            )
        )
        return {int(r["id"]): np.asarray(r[field], dtype=np.float32) for r in rows}

    def _ids_if_few(self, expr: str) -> list[int] | None:
        """The ids that pass ``expr`` when there are at most ``exact_below`` of them, else
        None. One query for ids only, limited to one row more than the threshold, so a
        filter that keeps many rows costs little."""
        rows = self._call(
            lambda c: c.query(
                self.collection,
                filter=expr,
                output_fields=["id"],
                limit=self.exact_below + 1,
                timeout=self.timeout,
            )
        )
        if len(rows) > self.exact_below:
            return None
        return [int(r["id"]) for r in rows]

    def _exact(
        self, query: list[float], ids: list[int], field: str, limit: int, offset: int
    ) -> list[Hit]:
        """Score the rows ``ids`` exactly (their vectors are read back in chunks)."""
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), _EXACT_CHUNK):
            found.update(self.vectors(ids[start : start + _EXACT_CHUNK], field))
        if not found:
            return []
        keys = np.fromiter(found, dtype=np.int64, count=len(found))
        scores = np.stack([found[int(k)] for k in keys]) @ np.asarray(query, dtype=np.float32)
        order = np.lexsort((keys, -scores))[offset : offset + limit]
        return [Hit(id=int(keys[i]), score=float(scores[i])) for i in order]

    def flush(self) -> None:
        """Seal pending writes (unflushed rows are slow to search in Lite)."""
        self._call(lambda c: c.flush(self.collection, timeout=self.timeout))

    def count(self, expr: str = "") -> int:
        """Rows in the collection, or those that pass the boolean expression ``expr``."""
        rows = self._call(
            lambda c: c.query(
                self.collection, filter=expr, output_fields=["count(*)"], timeout=self.timeout
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
                # and ping rarely during a call: a long one (loading 100k rows took 138 s)
                # drew GOAWAY "too_many_pings" at the default 10 s
                grpc_options={
                    "grpc.keepalive_permit_without_calls": False,
                    "grpc.keepalive_time_ms": 300_000,
                },
            )
        return self._client

    def _schema(self) -> Any:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(
            auto_id=False, enable_dynamic_field=False, description=f"glassbox v{SCHEMA_VERSION}"
        )
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("semantic", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("appearance", DataType.FLOAT_VECTOR, dim=self.appearance_dim)
        # The partition key groups each owner's rows, so "mine" reads only their partition.
        schema.add_field("owner_id", DataType.INT64, is_partition_key=True)
        schema.add_field("is_public", DataType.BOOL)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("created", DataType.INT64)
        schema.add_field("flagged", DataType.BOOL)
        # The tag ids as text, " 12 345 1095 ", matched with ``like "% 345 %"``. Not an ARRAY:
        # Milvus Lite evaluates array_contains_any row by row in Python (1.7 s per search at
        # 10k rows, 18.8 s at 100k; `bench/milvus_filters.py`), LIKE as one pyarrow kernel.
        schema.add_field("tag_ids", DataType.VARCHAR, max_length=TAG_IDS_LENGTH)
        for name in TEXT_FIELDS:
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True)
            schema.add_field(f"{name}_sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{name}_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=[name],
                    output_field_names=[f"{name}_sparse"],
                )
            )
        return schema

    def _index_params(self, client: MilvusClient) -> Any:
        params = client.prepare_index_params()
        vector_params = vector_build_params(self.index_type, self.hnsw_m, self.hnsw_ef_construction)
        for name in VECTOR_FIELDS:
            params.add_index(
                field_name=name,
                index_type=self.index_type,
                metric_type="IP",
                params=vector_params,
            )
        for name in TEXT_FIELDS:
            params.add_index(
                field_name=f"{name}_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
            )
        for name in ("owner_id", "created", "kind", "is_public", "flagged"):
            params.add_index(field_name=name, index_type="INVERTED")
        return params

    def _row(self, row: IndexRow) -> dict[str, Any]:
        if len(row.kind) > 16:
            raise ValueError(f"kind {row.kind!r} is longer than 16 characters")
        appearance = (
            np.zeros(self.appearance_dim, dtype=np.float32)
            if row.appearance is None
            else row.appearance
        )
        return {
            "id": int(row.id),
            "semantic": self._vector(row.vector, self.dim),
            "appearance": self._vector(appearance, self.appearance_dim),
            "owner_id": int(row.owner_id),
            "is_public": bool(row.is_public),
            "kind": row.kind,
            "created": int(row.created),
            "flagged": bool(row.flagged),
            "tag_ids": _tag_ids_text(row.tags),
            "caption": _clip(row.caption),
            "ocr": _clip(row.ocr),
        }

    def _vector(self, vector: np.ndarray | Sequence[float], dim: int) -> list[float]:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != dim:
            raise ValueError(f"expected a {dim}-d vector, got {v.shape[0]}")
        return v.tolist()


MAX_TEXT = 4000  # characters of stems per text channel


def _clip(text: str) -> str:
    """Stems cut at a word boundary to fit the field (Milvus counts bytes)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_TEXT:
        return text
    return data[:MAX_TEXT].decode("utf-8", "ignore").rsplit(" ", 1)[0]


def from_settings(
    cfg: Any, collection: str | None = None, timeout: float | None = None
) -> MediaIndex:
    """The index that ``glassbox.config.Settings`` describe (web, worker, reindex, health)."""
    return MediaIndex(
        cfg.milvus_uri,
        collection or cfg.milvus_collection,
        timeout=cfg.milvus_timeout_s if timeout is None else timeout,
        index_type=cfg.milvus_index,
        hnsw_m=cfg.milvus_hnsw_m,
        hnsw_ef_construction=cfg.milvus_hnsw_ef_construction,
        hnsw_ef=cfg.milvus_hnsw_ef,
        exact_below=cfg.milvus_exact_below,
    )


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


def _tag_ids_text(tags: Iterable[int]) -> str:
    """The row's tag ids as space-delimited words, with a space at each end, so that
    ``like "% 34 %"`` matches the id 34 and never 134 or 345."""
    ids = list(dict.fromkeys(int(t) for t in tags))[:MAX_TAGS]
    return " " + " ".join(str(i) for i in ids) + " " if ids else ""


def vector_build_params(index_type: str, m: int, ef_construction: int) -> dict[str, Any]:
    """Build parameters of a vector index. pymilvus 3 sends a dict's entries as flat key-value
    pairs, which Milvus standalone reads and milvus-lite 3.2 ignores (it reads only a JSON
    "params" entry, and built every graph with its own defaults): send both forms."""
    if index_type != "HNSW":
        return {}
    build = {"M": m, "efConstruction": ef_construction}
    return {**build, "params": build}
