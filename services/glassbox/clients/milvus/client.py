"""``MediaIndex``: the vector index of media items that the web app, the worker and
``manage.py reindex`` write to and search, and ``from_settings``, the one they use.

Writes are upserts keyed by the item's id (``schema``); every search carries the privacy rule
(``filters``); an HNSW search may be answered by exact scoring (``search``); a lexical channel
none of whose query words occurs in any row is not searched (``vocabulary``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassbox.clients.milvus.connection import CollectionConnection
from glassbox.clients.milvus.errors import IndexFailure, IndexOutdated
from glassbox.clients.milvus.filters import Filters
from glassbox.clients.milvus.schema import (
    FILTER_FIELDS,
    INDEX_TYPES,
    REQUIRED_FIELDS,
    TEXT_FIELDS,
    VECTOR_FIELDS,
    IndexRow,
    as_vector,
    build_index_params,
    build_schema,
    row_fields,
)
from glassbox.clients.milvus.search import (
    DEFAULT_EXACT_BELOW,
    DEFAULT_HNSW_EF,
    EXACT_CHUNK,
    Hit,
    bm25_hits,
    rank_exactly,
    vector_hits,
    vector_search_params,
)
from glassbox.clients.milvus.vocabulary import Vocabulary, tokens

if TYPE_CHECKING:
    from pymilvus import MilvusClient

ID_BATCH = 10_000  # ids read per round trip by ``all_ids`` (Milvus caps a query at 16 384)


class MediaIndex(CollectionConnection):
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
        vocabulary: Vocabulary | None = None,
    ) -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {INDEX_TYPES}, got {index_type!r}")
        super().__init__(uri, collection, timeout)
        self.dim = dim
        self.appearance_dim = appearance_dim
        self.index_type = index_type
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef = hnsw_ef
        self.exact_below = exact_below
        self.vocabulary = vocabulary  # None: every lexical channel is searched

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
        missing = REQUIRED_FIELDS - names
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
        if self.vocabulary is not None:
            self.vocabulary.clear(TEXT_FIELDS)

    def upsert(self, rows: Iterable[IndexRow]) -> None:
        data = [self._row(r) for r in rows]
        if data and self.vocabulary is not None:  # words first: see ``vocabulary``
            self.vocabulary.add(
                {f: set().union(*(tokens(str(d.get(f) or "")) for d in data)) for f in TEXT_FIELDS}
            )
        if data:
            self._call(lambda c: c.upsert(self.collection, data, timeout=self.timeout))

    def delete(self, ids: Iterable[int]) -> None:
        """Remove items: their own rows and, for a video, every shot row."""
        keys = sorted({int(i) for i in ids})
        if keys:
            expr = f"item_id in {keys}"
            self._call(lambda c: c.delete(self.collection, filter=expr, timeout=self.timeout))

    def delete_shots_from(self, item_id: int, first: int) -> None:
        """Remove a video's shot rows numbered ``first`` and above (after a re-analysis that
        found fewer shots)."""
        expr = f"item_id == {int(item_id)} and shot >= {int(first)}"
        self._call(lambda c: c.delete(self.collection, filter=expr, timeout=self.timeout))

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
        query = as_vector(vector, self.dim if field == "semantic" else self.appearance_dim)
        filters = filters or Filters()
        expr = filters.expr(viewer_id)
        if self.index_type != "FLAT" and self.exact_below > 0:
            few = self._ids_if_few(expr)
            if few is not None:
                return self._exact(query, few, field, limit, offset)
        params = vector_search_params(self.index_type, self.hnsw_ef, limit, offset)
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
        return vector_hits(results)

    def search_text(
        self,
        terms: str,
        field: str,
        limit: int,
        viewer_id: int | None,
        filters: Filters | None = None,
    ) -> list[Hit]:
        """BM25 matches of ``terms`` (stems, see ``glassbox.retrieval.lexical``) in the
        ``caption`` or ``ocr`` channel; only rows sharing a word come back. Scores are positive,
        larger is better."""
        if field not in TEXT_FIELDS:
            raise ValueError(f"field must be one of {TEXT_FIELDS}, got {field!r}")
        if not terms.strip():
            return []
        if self.vocabulary is not None:
            may = self.vocabulary.may_match(field, terms.split())
            if may is False:
                return []
            if may is None:  # no complete word set yet: search, and have one built
                self.vocabulary.build_in_background(TEXT_FIELDS, self._text_rows)
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
        return bm25_hits(results)

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

    def all_ids(self, batch: int = ID_BATCH) -> list[int]:
        """The id of every item row (shot rows aside), read through a query iterator,
        ``batch`` at a time: what the consistency check compares with the database."""
        return sorted(self._iterate("id >= 0", "id", batch))

    def shot_item_ids(self, batch: int = ID_BATCH) -> set[int]:
        """The items that have shot rows (their videos)."""
        return set(self._iterate("id < 0", "item_id", batch))

    def _text_rows(self, fields: list[str], batch: int = ID_BATCH) -> list[dict]:
        """Every row's lexical fields (items and shots), read through a query iterator."""

        def run(client: MilvusClient) -> list[dict]:
            it = client.query_iterator(
                self.collection,
                batch_size=batch,
                filter="id != 0",
                output_fields=fields,
                timeout=self.timeout,
            )
            rows: list[dict] = []
            try:
                while page := it.next():
                    rows += [{f: r.get(f) for f in fields} for r in page]
            finally:
                it.close()
            return rows

        return self._call(run)

    def _iterate(self, expr: str, field: str, batch: int) -> list[int]:
        def run(client: MilvusClient) -> list[int]:
            it = client.query_iterator(
                self.collection,
                batch_size=batch,
                filter=expr,
                output_fields=[field],
                timeout=self.timeout,
            )
            values: list[int] = []
            try:
                while rows := it.next():
                    values += [int(r[field]) for r in rows]
            finally:
                it.close()
            return values

        return self._call(run)

    def filter_fields(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The stored filter fields (owner, visibility, kind, flag, date, tags) by id."""
        keys = [int(i) for i in ids]
        if not keys:
            return {}
        rows = self._call(
            lambda c: c.get(
                self.collection,
                ids=keys,
                output_fields=["id", *FILTER_FIELDS],
                timeout=self.timeout,
            )
        )
        return {int(r["id"]): {f: r[f] for f in FILTER_FIELDS} for r in rows}

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
        for start in range(0, len(ids), EXACT_CHUNK):
            found.update(self.vectors(ids[start : start + EXACT_CHUNK], field))
        return rank_exactly(found, query, limit, offset)

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

    # -- what is written (subclasses in bench/ extend these) --------------------------------

    def _schema(self) -> Any:
        return build_schema(self.dim, self.appearance_dim)

    def _index_params(self, client: MilvusClient) -> Any:
        return build_index_params(client, self.index_type, self.hnsw_m, self.hnsw_ef_construction)

    def _row(self, row: IndexRow) -> dict[str, Any]:
        return row_fields(row, self.dim, self.appearance_dim)


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
        vocabulary=vocabulary_from_settings(cfg, collection or cfg.milvus_collection),
    )


def vocabulary_from_settings(cfg: Any, collection: str) -> Vocabulary | None:
    """The lexical channels' word sets in the settings' Redis, unless
    ``GLASSBOX_SEARCH_VOCABULARY`` is 0 (every lexical channel is then searched)."""
    from glassbox.config import load_web_settings  # the broker's URL is a web/worker setting

    web = load_web_settings()
    return Vocabulary(web.redis_url, collection) if web.search_vocabulary else None
