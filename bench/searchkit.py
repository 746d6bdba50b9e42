"""Shared pieces of the search benchmarks (``bench/search.py``, ``bench/hnsw_sweep.py``).

- the services on bench ports (``PORTS``) with state under ``var/bench-search*``;
- a synthetic corpus shaped like real analyses: each item's semantic vector is a ConSE mix of
  real concept-bank embeddings (8 leaf classes around one "topic", with uneven topic
  popularity, plus up to 8 broader concepts at weight 0.25, as ``glassbox.retrieval.conse`` builds
  them), tags with their broader concepts, a caption naming the two main classes, an
  appearance vector correlated with the classes, owners (the viewer owns 5 %), 25 % public,
  2 % flagged, created over 2024-01-01 .. 2026-11-28;
- loading it into Milvus (rows built by ``MediaIndex._row``, the same as ``index_row``) and,
  when asked, into the SQLite database (``MediaItem`` + ``SemanticProfile`` in bulk);
- exact ground truth (numpy), percentiles and markdown tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO / "web", REPO / "services", REPO / "infra"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from glassbox.clients.milvus.client import MediaIndex  # noqa: E402
from glassbox.clients.milvus.filters import Filters  # noqa: E402
from glassbox.clients.milvus.schema import IndexRow, vector_build_params  # noqa: E402
from glassbox_launch.stack import Ports  # noqa: E402

PORTS = Ports(redis=26391, triton=28120, milvus=28550, web=28020)
OWNERS = 100  # user ids 1..OWNERS; the viewer is user 1
VIEWER = 1
VIEWER_SHARE = 0.05
PUBLIC_SHARE = 0.25
FLAGGED_SHARE = 0.02
CREATED_FROM = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())
CREATED_TO = int(dt.datetime(2026, 11, 28, tzinfo=dt.UTC).timestamp())
# the "filtered" query type: the last 12 months, not flagged, images only
FILTER_FROM = dt.date(2025, 11, 28)
FILTER_TO = dt.date(2026, 11, 27)
MAX_TAG_SLOTS = 32
APPEARANCE_NOISE = 0.35  # a few % of items get a near-duplicate (appearance cosine >= 0.9)
CAM_POOL = 64  # distinct 7x7 maps reused across items (their size matters, not their values)

BASE_QUERIES = [
    "dog",
    "cat",
    "bird",
    "car",
    "a red sports car",
    "food",
    "pizza",
    "boat on the water",
    "mountain",
    "musical instrument",
    "furniture",
    "a person riding a horse",
    "flower",
    "computer keyboard",
    "building",
    "snake",
    "insect",
    "fruit",
    "airplane",
    "shoes",
]


# --- queries --------------------------------------------------------------------------------


def query_texts(bank, n: int, seed: int = 7) -> list[str]:
    """The 20 hand-written queries, then concept names (leaves and broader concepts)."""
    rng = np.random.default_rng(seed)
    names = [str(bank.names[i]) for i in rng.permutation(len(bank))]
    out = list(BASE_QUERIES)
    for name in names:
        if len(out) >= n:
            break
        if name not in out:
            out.append(name)
    return out[:n]


def tag_for(bank, query: str) -> str | None:
    """A tag filter that fits the query: the query itself if it names a concept, else its
    first word that does ("a red sports car" -> "car"); None if no word names a concept."""
    from glassbox.retrieval import lexical

    if bank.find(query):
        return query
    for word in lexical.words(query):
        if bank.find(word.text):
            return word.text
    return None


# --- the corpus -----------------------------------------------------------------------------


@dataclass
class Chunk:
    ids: np.ndarray  # int64
    semantic: np.ndarray  # float32 [n, 384], unit length
    appearance: np.ndarray  # float32 [n, A], unit length
    owner: np.ndarray  # int64 user ids 1..OWNERS
    public: np.ndarray  # bool
    created: np.ndarray  # int64 unix seconds
    flagged: np.ndarray  # bool
    tags: np.ndarray  # int32 [n, MAX_TAG_SLOTS], -1 padded: leaf tags and their ancestors
    concept_ids: list[list[int]]
    weights: list[list[float]]
    captions: list[str]


@dataclass
class Truth:
    """What exact search needs, kept for the whole corpus."""

    semantic: np.ndarray
    appearance: np.ndarray
    owner: np.ndarray
    public: np.ndarray
    created: np.ndarray
    flagged: np.ndarray
    tags: np.ndarray
    ids: np.ndarray

    def mask(self, viewer: int | None, filters: Filters | None = None) -> np.ndarray:
        """Rows ``Filters.expr(viewer)`` keeps (kind is always "image" here)."""
        f = filters or Filters()
        visible = self.public if viewer is None else (self.owner == viewer) | self.public
        if f.owner == "mine":
            visible = self.owner == (viewer if viewer is not None else -1)
        elif f.owner == "public":
            visible = self.public.copy()
        m = visible.copy()
        if f.kind not in (None, "image"):
            m[:] = False
        if f.created_from is not None:
            m &= self.created >= f.created_from
        if f.created_to is not None:
            m &= self.created < f.created_to
        if f.tags:
            m &= np.isin(self.tags, np.asarray(f.tags, dtype=np.int32)).any(axis=1)
        if f.flagged is not None:
            m &= self.flagged == f.flagged
        return m

    def top(self, vector: np.ndarray, mask: np.ndarray, k: int, field: str = "semantic"):
        """Ids of the exact top ``k`` by inner product among ``mask``."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        data = self.semantic if field == "semantic" else self.appearance
        scores = data[rows] @ np.asarray(vector, dtype=np.float32)
        k = min(k, rows.size)
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
        return [int(self.ids[rows[i]]) for i in order]


class Generator:
    """Synthetic analyses from the real concept bank (see the module docstring)."""

    def __init__(self, bank, appearance_dim: int, seed: int = 0) -> None:
        from glassbox.retrieval import lexical

        self.bank = bank
        self.lexical = lexical
        self.appearance_dim = appearance_dim
        self.rng = np.random.default_rng(seed)
        n_leaves = bank.n_leaves
        emb = np.asarray(bank.embeddings, dtype=np.float32)
        self.emb = emb
        self.n_leaves = n_leaves
        sims = emb[:n_leaves] @ emb[:n_leaves].T
        self.neighbours = np.argsort(-sims, axis=1)[:, :32]  # the topic itself first
        rank = self.rng.permutation(n_leaves)
        pop = 1.0 / (rank + 20.0)  # uneven topic popularity (a long tail)
        self.topic_p = pop / pop.sum()
        self.members = np.asarray(bank.members, dtype=np.float32)  # [broader, leaves]
        self.members_t = np.ascontiguousarray(self.members.T)
        self.ancestors = [list(bank.ancestors(i)) for i in range(n_leaves)]
        w = self.rng.standard_normal((n_leaves, appearance_dim)).astype(np.float32)
        self.appearance_basis = np.maximum(w, 0.0)
        self.names = [str(n) for n in bank.names]
        cam_rng = np.random.default_rng(seed + 1)
        self.cam_pool = [cam_rng.random((7, 7)).round(3).tolist() for _ in range(CAM_POOL)]

    def chunks(self, n: int, batch: int = 5000, id_offset: int = 0) -> Iterator[Chunk]:
        for start in range(0, n, batch):
            yield self._chunk(start + id_offset + 1, min(batch, n - start))

    def _chunk(self, first_id: int, n: int) -> Chunk:
        rng, nl = self.rng, self.n_leaves
        topics = rng.choice(nl, size=n, p=self.topic_p)
        # 12 classes around the topic, 4 anywhere: a classifier's spread over similar classes
        near = np.argsort(rng.random((n, 31)), axis=1)[:, :11] + 1
        slots = np.concatenate(
            [
                topics[:, None],
                self.neighbours[topics[:, None], near],
                rng.integers(0, nl, size=(n, 4)),
            ],
            axis=1,
        )
        alpha = np.full(slots.shape, 0.3)
        alpha[:, 0] = 2.0
        mass = rng.gamma(alpha)
        mass /= mass.sum(axis=1, keepdims=True)
        flat = (np.arange(n)[:, None] * nl + slots).ravel()
        probs = np.bincount(flat, weights=mass.ravel(), minlength=n * nl).reshape(n, nl)
        leaf_ids = _top(probs, 8)
        leaf_mass = np.take_along_axis(probs, leaf_ids, axis=1)
        probs32 = probs.astype(np.float32)
        broader = (probs32 @ self.members_t).astype(np.float64)  # [n, n_broader]
        app = probs32 @ self.appearance_basis
        b_ids = _top(broader, 8)
        b_mass = 0.25 * np.take_along_axis(broader, b_ids, axis=1)
        total = np.einsum("nk,nkd->nd", leaf_mass, self.emb[leaf_ids]) + np.einsum(
            "nk,nkd->nd", b_mass, self.emb[nl + b_ids]
        )
        norm = np.linalg.norm(total, axis=1, keepdims=True)
        semantic = (total / norm).astype(np.float32)
        app += APPEARANCE_NOISE * np.maximum(rng.standard_normal(app.shape, dtype=np.float32), 0.0)
        app /= np.linalg.norm(app, axis=1, keepdims=True)

        owner = np.where(
            rng.random(n) < VIEWER_SHARE, VIEWER, rng.integers(2, OWNERS + 1, size=n)
        ).astype(np.int64)
        public = rng.random(n) < PUBLIC_SHARE
        created = rng.integers(CREATED_FROM, CREATED_TO, size=n, dtype=np.int64)
        flagged = rng.random(n) < FLAGGED_SHARE
        tags = np.full((n, MAX_TAG_SLOTS), -1, dtype=np.int32)
        concept_ids: list[list[int]] = []
        weights: list[list[float]] = []
        captions: list[str] = []
        leaf_l, mass_l = leaf_ids.tolist(), leaf_mass.tolist()
        b_l, bm_l = b_ids.tolist(), b_mass.tolist()
        inv = (1.0 / norm[:, 0]).tolist()
        for i in range(n):
            chosen = [c for c, p in zip(leaf_l[i][:5], mass_l[i][:5], strict=True) if p >= 0.10]
            row_tags = list(dict.fromkeys(chosen + [a for c in chosen for a in self.ancestors[c]]))
            row_tags = row_tags[:MAX_TAG_SLOTS]
            tags[i, : len(row_tags)] = row_tags
            kept = [(nl + b, m) for b, m in zip(b_l[i], bm_l[i], strict=True) if m > 0]
            concept_ids.append(leaf_l[i] + [b for b, _ in kept])
            weights.append([m * inv[i] for m in mass_l[i]] + [m * inv[i] for _, m in kept])
            captions.append(
                f"a photo of a {self.names[leaf_l[i][0]]} next to a {self.names[leaf_l[i][1]]}"
            )
        return Chunk(
            ids=np.arange(first_id, first_id + n, dtype=np.int64),
            semantic=semantic,
            appearance=app,
            owner=owner,
            public=public,
            created=created,
            flagged=flagged,
            tags=tags,
            concept_ids=concept_ids,
            weights=weights,
            captions=captions,
        )


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` largest values, largest first."""
    part = np.argpartition(-values, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(values, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def truth_from(chunks: list[Chunk]) -> Truth:
    cat = np.concatenate
    return Truth(
        semantic=cat([c.semantic for c in chunks]),
        appearance=cat([c.appearance for c in chunks]),
        owner=cat([c.owner for c in chunks]),
        public=cat([c.public for c in chunks]),
        created=cat([c.created for c in chunks]),
        flagged=cat([c.flagged for c in chunks]),
        tags=cat([c.tags for c in chunks]),
        ids=cat([c.ids for c in chunks]),
    )


def index_rows(chunk: Chunk, lexical) -> list[IndexRow]:
    return [
        IndexRow(
            id=int(chunk.ids[i]),
            vector=chunk.semantic[i],
            owner_id=int(chunk.owner[i]),
            is_public=bool(chunk.public[i]),
            kind="image",
            created=int(chunk.created[i]),
            appearance=chunk.appearance[i],
            flagged=bool(chunk.flagged[i]),
            tags=[int(t) for t in chunk.tags[i] if t >= 0],
            caption=lexical.index_text(chunk.captions[i]),
            ocr="",
        )
        for i in range(len(chunk.ids))
    ]


def insert_rows(index: MediaIndex, rows: list[IndexRow], batch: int = 1000) -> None:
    """Bulk load into a fresh collection: ``insert`` (the ids are new), with the row dicts
    ``MediaIndex.upsert`` would send."""
    client = index._connect()
    for start in range(0, len(rows), batch):
        data = [index._row(r) for r in rows[start : start + batch]]
        client.insert(index.collection, data, timeout=index.timeout)


# --- Milvus ---------------------------------------------------------------------------------

VECTOR_FIELDS = ("semantic", "appearance")
SCALAR_FIELDS = ("owner_id", "created", "kind", "is_public", "flagged")


def collection_dir(milvus_dir: Path, collection: str) -> Path:
    return milvus_dir / "collections" / collection


def segment_sizes(milvus_dir: Path, collection: str) -> list[int]:
    """Rows per sealed segment (data Parquet file) of the collection, from the files."""
    import pyarrow.parquet as pq

    root = collection_dir(milvus_dir, collection) / "partitions"
    return sorted(pq.ParquetFile(p).metadata.num_rows for p in root.glob("*/data/data_*.parquet"))


def wait_indexed(
    milvus_dir: Path, collection: str, timeout_s: float = 7200, poll_s: float = 2.0
) -> float:
    """Block until every sealed segment has its vector and scalar index files and the set of
    segments has stopped changing (Milvus Lite builds indexes and compacts in a background
    thread after a flush). Returns the seconds waited."""
    root = collection_dir(milvus_dir, collection) / "partitions"
    want = len(VECTOR_FIELDS) + len(SCALAR_FIELDS)
    t0 = time.perf_counter()
    stable, last = 0, None
    while time.perf_counter() - t0 < timeout_s:
        state = []
        complete = True
        for data in sorted(root.glob("*/data/data_*.parquet")):
            stem = data.stem
            idx_dir = data.parent.parent / "indexes"
            n = len(list(idx_dir.glob(f"{stem}.*.idx"))) + len(list(idx_dir.glob(f"{stem}.*.sidx")))
            complete &= n >= want
            state.append((str(data), n))
        if complete and state and state == last:
            stable += 1
            if stable >= 2:
                return time.perf_counter() - t0
        else:
            stable = 0
        last = state
        time.sleep(poll_s)
    raise TimeoutError(f"collection {collection} not indexed after {timeout_s:.0f} s")


class TimedIndex(MediaIndex):
    """A ``MediaIndex`` that records the time of each Milvus call, to split the engine's
    "milvus" part into: vector search, the ids query (HNSW: does the filter keep few enough
    rows to score exactly?), the exact scoring of a small filtered set, and the BM25
    channels."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.laps: dict[str, float] = {}
        self.paths: list[str] = []

    def _lap(self, name: str, t0: float) -> None:
        self.laps[name] = self.laps.get(name, 0.0) + (time.perf_counter() - t0) * 1000

    def search(self, vector, limit, viewer_id, filters=None, field="semantic", offset=0):
        t0 = time.perf_counter()
        try:
            return super().search(vector, limit, viewer_id, filters, field, offset)
        finally:
            self._lap("vector", t0)

    def _ids_if_few(self, expr: str):
        t0 = time.perf_counter()
        try:
            return super()._ids_if_few(expr)
        finally:
            self._lap("ids", t0)

    def _exact(self, query, expr, field, limit, offset):
        self.paths.append("exact")
        t0 = time.perf_counter()
        try:
            return super()._exact(query, expr, field, limit, offset)
        finally:
            self._lap("exact", t0)

    def search_text(self, terms, field, limit, viewer_id, filters=None):
        t0 = time.perf_counter()
        try:
            return super().search_text(terms, field, limit, viewer_id, filters)
        finally:
            self._lap("bm25", t0)

    def take(self) -> tuple[dict[str, float], list[str]]:
        """The laps since the last take; "vector" excludes the count and exact scoring."""
        laps, paths = self.laps, self.paths
        self.laps, self.paths = {}, []
        laps["vector"] = laps.get("vector", 0.0) - laps.get("ids", 0.0) - laps.get("exact", 0.0)
        return laps, paths


def switch_vector_index(
    index: MediaIndex, index_type: str, m: int = 16, ef_construction: int = 200
) -> float:
    """Rebuild the semantic field's index with other parameters (same segments, same rows):
    release, drop, create, load (Milvus Lite builds the new index inside load). Seconds."""
    client = index._connect()
    name = index.collection
    t0 = time.perf_counter()
    client.release_collection(name, timeout=600)
    # Milvus Lite resolves an index name only as "<field>_idx"; any other name drops every
    # index of the collection (scalar and BM25 ones included)
    client.drop_index(name, "semantic_idx", timeout=600)
    ip = client.prepare_index_params()
    ip.add_index(
        field_name="semantic",
        index_type=index_type,
        metric_type="IP",
        params=vector_build_params(index_type, m, ef_construction),
    )
    client.create_index(name, ip, timeout=3600)
    client.load_collection(name, timeout=7200)
    return time.perf_counter() - t0


# --- the database ---------------------------------------------------------------------------


def create_users(n: int = OWNERS):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password = make_password(None)  # unusable, and fast
    User.objects.bulk_create(
        [User(id=i, username=f"bench{i}", password=password) for i in range(1, n + 1)]
    )
    return User.objects.get(pk=VIEWER)


def insert_db(chunk: Chunk, gen: Generator, only: set[int] | None = None) -> None:
    """``MediaItem`` + ``SemanticProfile`` rows for the chunk (or only the ids in ``only``),
    with the ids Milvus has, in bulk; ``created`` as in the index."""
    from django.db import transaction
    from media.models import MediaItem, SemanticProfile

    created_field = MediaItem._meta.get_field("created")
    rows = (
        range(len(chunk.ids))
        if only is None
        else [i for i, pk in enumerate(chunk.ids) if int(pk) in only]
    )
    if not rows:
        return
    items, profiles = [], []
    for i in rows:
        pk = int(chunk.ids[i])
        created = dt.datetime.fromtimestamp(int(chunk.created[i]), tz=dt.UTC)
        items.append(
            MediaItem(
                id=pk,
                owner_id=int(chunk.owner[i]),
                title=f"synthetic {pk}",
                visibility="public" if chunk.public[i] else "private",
                kind="image",
                file=f"originals/bench-{pk}.jpg",
                thumbnail=f"thumbnails/bench-{pk}.jpg",
                mime="image/jpeg",
                width=640,
                height=480,
                size_bytes=100_000,
                status="ready",
                created=created,
                analyzed_at=created,
                caption=chunk.captions[i],
            )
        )
        leaves = [c for c in chunk.concept_ids[i] if c < gen.n_leaves]
        profiles.append(
            SemanticProfile(
                item_id=pk,
                vector=chunk.semantic[i].astype("<f4").tobytes(),
                concept_ids=chunk.concept_ids[i],
                weights=chunk.weights[i],
                cams={str(c): gen.cam_pool[(pk + j) % CAM_POOL] for j, c in enumerate(leaves)},
                appearance=chunk.appearance[i].astype("<f4").tobytes(),
                text_terms=[],
            )
        )
    created_field.auto_now_add = False  # keep the synthetic dates (as in the index)
    try:
        with transaction.atomic():
            MediaItem.objects.bulk_create(items, batch_size=1000)
            SemanticProfile.objects.bulk_create(profiles, batch_size=1000)
    finally:
        created_field.auto_now_add = True


# --- numbers and tables ---------------------------------------------------------------------


def pct(values: Iterable[float], q: float) -> float:
    v = np.asarray(list(values), dtype=np.float64)
    return float(np.percentile(v, q)) if v.size else float("nan")


def fmt(x: float, digits: int = 1) -> str:
    if x != x:  # nan
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def table(headers: list[str], rows: Iterable[Iterable[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Clock:
    """Wall time of named phases, for the "run times" summary."""

    phases: list[tuple[str, float]] = field(default_factory=list)

    def run(self, name: str, fn: Callable, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.phases.append((name, time.perf_counter() - t0))
            print(f"  [{name}: {time.perf_counter() - t0:.0f} s]", flush=True)


def machine_line() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start"


def dump_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float))
