"""The collection's schema and indexes, and the row written for one media item.

One row holds four searchable channels:

- ``semantic``: the ConSE vector (384-d, in the text space), searched with a text query;
- ``appearance``: the backbone's pooled features, unit length, for "find similar";
- ``caption`` / ``ocr``: stemmed words (``glassbox.retrieval.lexical``) that Milvus turns into BM25
  sparse vectors by a schema function, for the lexical channels.

Rows are keyed by the database's ``MediaItem`` primary key, so writing an item twice (a
retried task) replaces it. A video also has one row per shot, beside its item row, with the
same privacy and filter fields: its key is ``shot_row_id(item, shot)`` (negative, so it never
meets an item's key), and ``item_id``, ``shot``, ``start_s`` and ``end_s`` say where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SCHEMA_VERSION = 4  # bump when the fields change; an older collection must be rebuilt
VECTOR_FIELDS = ("semantic", "appearance")
TEXT_FIELDS = ("caption", "ocr")
# the fields an older schema lacks: a collection without one of them must be rebuilt
REQUIRED_FIELDS = frozenset(
    {"semantic", "appearance", "tag_ids", "flagged", "caption", "ocr", "item_id", "shot"}
)
SHOT_SLOTS = 100_000  # shots a video may have in the index
MAX_TAGS = 64  # concept ids per row (tags and their broader concepts)
TAG_IDS_LENGTH = 1 + MAX_TAGS * 12  # " 12 345 ... " with room for any int64 id
MAX_TEXT = 4000  # characters of stems per text channel
MAX_KIND = 16  # characters of a row's kind
INDEX_TYPES = ("FLAT", "HNSW")
_SCALAR_INDEXED = ("owner_id", "created", "kind", "is_public", "flagged", "item_id")


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
    caption: str = ""  # stems (glassbox.retrieval.lexical.index_text)
    ocr: str = ""
    item_id: int | None = None  # a shot's video (None: the row is the item's own, ``id``)
    shot: int = -1  # the shot's number; -1 for an item's own row
    start_s: float = 0.0  # a shot's time range in its video
    end_s: float = 0.0


def shot_row_id(item_id: int, shot: int) -> int:
    """The key of a video's shot row: negative, unique per (item, shot)."""
    if not 0 <= shot < SHOT_SLOTS:
        raise ValueError(f"a video has at most {SHOT_SLOTS} shots in the index")
    return -(int(item_id) * SHOT_SLOTS + int(shot) + 1)


def item_of(row_id: int) -> tuple[int, int]:
    """(item id, shot number) of a row key; shot -1 for an item's own row."""
    if row_id >= 0:
        return int(row_id), -1
    n = -int(row_id) - 1
    return n // SHOT_SLOTS, n % SHOT_SLOTS


def build_schema(dim: int, appearance_dim: int) -> Any:
    """The collection's fields, with a BM25 function per text channel."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(
        auto_id=False, enable_dynamic_field=False, description=f"glassbox v{SCHEMA_VERSION}"
    )
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("item_id", DataType.INT64)
    schema.add_field("shot", DataType.INT32)
    schema.add_field("start_s", DataType.FLOAT)
    schema.add_field("end_s", DataType.FLOAT)
    schema.add_field("semantic", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("appearance", DataType.FLOAT_VECTOR, dim=appearance_dim)
    # The partition key groups each owner's rows, so "mine" reads only their partition.
    schema.add_field("owner_id", DataType.INT64, is_partition_key=True)
    schema.add_field("is_public", DataType.BOOL)
    schema.add_field("kind", DataType.VARCHAR, max_length=MAX_KIND)
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


def build_index_params(
    client: MilvusClient, index_type: str, hnsw_m: int, hnsw_ef_construction: int
) -> Any:
    """The indexes: ``index_type`` on the vectors, BM25 on the text, inverted on the scalars."""
    params = client.prepare_index_params()
    vector_params = vector_build_params(index_type, hnsw_m, hnsw_ef_construction)
    for name in VECTOR_FIELDS:
        params.add_index(
            field_name=name,
            index_type=index_type,
            metric_type="IP",
            params=vector_params,
        )
    for name in TEXT_FIELDS:
        params.add_index(
            field_name=f"{name}_sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25"
        )
    for name in _SCALAR_INDEXED:
        params.add_index(field_name=name, index_type="INVERTED")
    return params


def vector_build_params(index_type: str, m: int, ef_construction: int) -> dict[str, Any]:
    """Build parameters of a vector index. pymilvus 3 sends a dict's entries as flat key-value
    pairs, which Milvus standalone reads and milvus-lite 3.2 ignores (it reads only a JSON
    "params" entry, and built every graph with its own defaults): send both forms."""
    if index_type != "HNSW":
        return {}
    build = {"M": m, "efConstruction": ef_construction}
    return {**build, "params": build}


FILTER_FIELDS = ("owner_id", "is_public", "kind", "created", "flagged", "tag_ids")


def filter_values(row: IndexRow) -> dict[str, Any]:
    """The filter fields ``row`` is written with, as ``MediaIndex.filter_fields`` reads them
    back: what the consistency check compares."""
    return {
        "owner_id": int(row.owner_id),
        "is_public": bool(row.is_public),
        "kind": row.kind,
        "created": int(row.created),
        "flagged": bool(row.flagged),
        "tag_ids": tag_ids_text(row.tags),
    }


def row_fields(row: IndexRow, dim: int, appearance_dim: int) -> dict[str, Any]:
    """The entity written for ``row`` (a missing appearance vector is written as zeros)."""
    if len(row.kind) > MAX_KIND:
        raise ValueError(f"kind {row.kind!r} is longer than 16 characters")
    appearance = (
        np.zeros(appearance_dim, dtype=np.float32) if row.appearance is None else row.appearance
    )
    return {
        "id": int(row.id),
        "item_id": int(row.id if row.item_id is None else row.item_id),
        "shot": int(row.shot),
        "start_s": float(row.start_s),
        "end_s": float(row.end_s),
        "semantic": as_vector(row.vector, dim),
        "appearance": as_vector(appearance, appearance_dim),
        **filter_values(row),
        "caption": clip_text(row.caption),
        "ocr": clip_text(row.ocr),
    }


def as_vector(vector: np.ndarray | Sequence[float], dim: int) -> list[float]:
    """``vector`` as a list of ``dim`` float32 values; a ValueError for any other length."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != dim:
        raise ValueError(f"expected a {dim}-d vector, got {v.shape[0]}")
    return v.tolist()


def tag_ids_text(tags: Iterable[int]) -> str:
    """The row's tag ids as space-delimited words, with a space at each end, so that
    ``like "% 34 %"`` (``filters.Filters``) matches the id 34 and never 134 or 345."""
    ids = list(dict.fromkeys(int(t) for t in tags))[:MAX_TAGS]
    return " " + " ".join(str(i) for i in ids) + " " if ids else ""


def clip_text(text: str) -> str:
    """Stems cut at a word boundary to fit the field (Milvus counts bytes)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_TEXT:
        return text
    return data[:MAX_TEXT].decode("utf-8", "ignore").rsplit(" ", 1)[0]
