"""MediaIndex filters, privacy, deletes, visibility and pagination against a real Milvus Lite
server, checked against a brute-force reference computed here in numpy.

Every configuration is tried: FLAT; HNSW with the defaults (the filter runs inside the graph
walk, with the default search breadth ef); HNSW with the exact fallback for small filtered
sets (``exact_below``); and HNSW with a narrow walk (ef 16). Milvus Lite keeps one HNSW graph
per segment, and the partition key (``owner_id``) spreads the rows over its buckets, so each
graph here is small: the default ef covers a whole segment, and its answers must be exact.

A narrow filtered walk does miss rows: with ef 64 (the old default), a filter keeping 7 rows
of a 100-row segment found 5 of them. So the ef-16 configuration is held to "never a row the
filter excludes", plus "every row it keeps" only where the limit (hence ef) covers the segment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.filters import Filters
from glassbox.clients.milvus.schema import IndexRow
from glassbox.clients.milvus.search import Hit
from glassbox.retrieval.lexical import index_text

pytestmark = pytest.mark.integration

DIM = 8
APPEARANCE_DIM = 4
N = 300
BASE = 1_700_000_000
STEP = 60  # created = BASE + STEP * (0..49): many rows share each timestamp
KINDS = ("image", "video", "audio")
OWNERS = (1, 2, 3)  # viewer 4 owns nothing
# ids that are digit-substrings of each other (1, 10, 101, 1010; 3, 31, 103): the tag filter
# matches whole ids in the row's tag_ids text, never a part of one
TAGS = (1, 3, 10, 31, 101, 102, 103, 107, 109, 1010)
CAPTION_WORDS = "dog cat horse beach mountain bicycle running children red boat".split()
OCR_WORDS = "bakery open closed exit sale menu coffee street".split()

CONFIGS = {
    "flat": {"index_type": "FLAT"},
    "hnsw": {"index_type": "HNSW"},  # the defaults: a filtered graph walk, the default ef
    "hnsw-exact-small-sets": {"index_type": "HNSW", "exact_below": 2000},
    "hnsw-ef-16": {"index_type": "HNSW", "hnsw_ef": 16},
}
# The configurations whose answer must equal the reference exactly, filtered or not (an
# unfiltered HNSW walk over a 100-row graph is exact in practice, and asserted to be).
EXACT = {"flat", "hnsw", "hnsw-exact-small-sets"}
NARROW = {"hnsw-ef-16"}  # ef below the pages' end: later pages walk further than earlier ones


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def make_rows(n: int = N, seed: int = 7) -> list[IndexRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        tags = rng.choice(TAGS, size=int(rng.integers(0, 4)), replace=False)
        caption = " ".join(rng.choice(CAPTION_WORDS, size=int(rng.integers(1, 5))))
        ocr = " ".join(rng.choice(OCR_WORDS, size=int(rng.integers(0, 3))))
        rows.append(
            IndexRow(
                id=i,
                vector=_unit(rng, DIM),
                owner_id=int(rng.choice(OWNERS)),
                is_public=bool(rng.random() < 0.5),
                kind=str(rng.choice(KINDS)),
                created=BASE + STEP * int(rng.integers(0, 50)),
                appearance=_unit(rng, APPEARANCE_DIM),
                flagged=bool(rng.random() < 0.2),
                tags=tuple(int(t) for t in tags),
                caption=index_text(caption),
                ocr=index_text(ocr),
            )
        )
    return rows


ROWS = make_rows()
BY_ID = {r.id: r for r in ROWS}


# -- the reference ---------------------------------------------------------------------------


def may_see(row: IndexRow, viewer: int | None) -> bool:
    return row.is_public or (viewer is not None and row.owner_id == viewer)


def passes(row: IndexRow, viewer: int | None, f: Filters) -> bool:
    """What ``Filters`` documents, written out independently of ``Filters.expr``."""
    if f.owner == "mine":
        ok = viewer is not None and row.owner_id == viewer
    elif f.owner == "public":
        ok = row.is_public
    else:
        ok = may_see(row, viewer)
    if f.kind is not None:
        ok = ok and row.kind == f.kind
    if f.created_from is not None:
        ok = ok and row.created >= f.created_from
    if f.created_to is not None:
        ok = ok and row.created < f.created_to
    if f.tags:
        ok = ok and bool(set(f.tags) & set(row.tags))
    if f.flagged is not None:
        ok = ok and row.flagged == f.flagged
    return ok


def kept(rows: list[IndexRow], viewer: int | None, f: Filters) -> list[IndexRow]:
    return [r for r in rows if passes(r, viewer, f)]


def field_vector(row: IndexRow, field: str) -> np.ndarray:
    return np.asarray(row.vector if field == "semantic" else row.appearance, dtype=np.float32)


def ranked(rows: list[IndexRow], query: np.ndarray, field: str) -> list[tuple[int, float]]:
    """(id, inner product), best first; ties by id."""
    if not rows:
        return []
    scores = np.stack([field_vector(r, field) for r in rows]) @ query
    pairs = [(r.id, float(s)) for r, s in zip(rows, scores, strict=True)]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


def text_matches(rows: list[IndexRow], terms: str, field: str) -> set[int]:
    wanted = set(terms.split())
    return {r.id for r in rows if wanted & set(getattr(r, field).split())}


def assert_same_ranking(hits: list[Hit], expected: list[tuple[int, float]], k: int) -> None:
    """``hits`` are the top ``k`` of ``expected`` (the full reference ranking): the same scores
    position by position, and each hit is a row the reference keeps, scored by its own inner
    product. So two rows of (almost) equal score may swap places; nothing else may differ."""
    want = expected[:k]
    assert len(hits) == len(want), (len(hits), len(want))
    for hit, (_, score) in zip(hits, want, strict=True):
        assert hit.score == pytest.approx(score, abs=1e-4)
    scores = dict(expected)
    for hit in hits:
        assert hit.id in scores
        assert hit.score == pytest.approx(scores[hit.id], abs=1e-4)
    assert len({h.id for h in hits}) == len(hits)


# -- fixtures ------------------------------------------------------------------------------


def filled(milvus_uri: str, config: str, rows: list[IndexRow]) -> MediaIndex:
    """A new collection holding ``rows``, every segment searched through its built index.

    Milvus Lite builds a flushed segment's index in a background thread (while the collection
    is loaded) and searches the segment by brute force until then, so an "HNSW" test could
    silently be a brute-force one. So the rows go into a released collection (no background
    builds), and ``load`` then builds every index before it returns.
    """
    index = MediaIndex(
        milvus_uri,
        f"test_filters_{uuid.uuid4().hex[:12]}",
        dim=DIM,
        appearance_dim=APPEARANCE_DIM,
        timeout=30.0,
        **CONFIGS[config],
    )
    index.ensure()
    try:
        index._call(lambda c: c.release_collection(index.collection, timeout=index.timeout))
        index.upsert(rows)
        index.flush()
        index._call(lambda c: c.load_collection(index.collection, timeout=index.timeout))
    except BaseException:
        index.drop()
        index.close()
        raise
    return index


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def config(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def index(milvus_uri: str, config: str) -> Iterator[MediaIndex]:
    """All of ``ROWS``, for the tests that only read (one collection per configuration: making
    one costs about 5 s, most of it pymilvus waiting 0.5 s after each of its 9 indexes)."""
    idx = filled(milvus_uri, config, ROWS)
    try:
        yield idx
    finally:
        idx.drop()
        idx.close()


# -- the filter cases ----------------------------------------------------------------------

T10, T20, T30 = BASE + 10 * STEP, BASE + 20 * STEP, BASE + 30 * STEP
FILTER_CASES = {
    "none": Filters(),
    "kind": Filters(kind="video"),
    "mine": Filters(owner="mine"),
    "public": Filters(owner="public"),
    "from": Filters(created_from=T20),
    "to": Filters(created_to=T20),
    "range": Filters(created_from=T10, created_to=T30),
    "one-tag": Filters(tags=(103,)),
    "any-tag": Filters(tags=(103, 107, 109)),
    "short-id-tag": Filters(tags=(1,)),
    "prefix-id-tag": Filters(tags=(10, 3)),
    "flagged": Filters(flagged=True),
    "not-flagged": Filters(flagged=False),
    "mine-video-clean": Filters(kind="video", owner="mine", flagged=False),
    "public-tag-range": Filters(owner="public", tags=(101, 102), created_from=T10, created_to=T30),
    "image-flagged-from": Filters(kind="image", flagged=True, created_from=T10),
    "everything": Filters(
        kind="image",
        owner="mine",
        created_from=T10,
        created_to=T30,
        tags=(101, 102, 103),
        flagged=False,
    ),
    "no-such-kind": Filters(kind="document"),
}


def test_the_data_exercises_every_filter() -> None:
    """Each case (but "none" and "no-such-kind") keeps some rows and drops some visible ones,
    and the date bounds fall on rows' timestamps, so inclusive/exclusive is really tested."""
    for name, f in FILTER_CASES.items():
        for viewer in (1, 2):
            rows = kept(ROWS, viewer, f)
            if name == "none":
                assert rows == kept(ROWS, viewer, Filters())
            elif name == "no-such-kind":
                assert rows == []
            else:
                assert 0 < len(rows) < len(kept(ROWS, viewer, Filters())), (name, viewer)
    assert {T10, T20, T30} <= {r.created for r in ROWS}


@pytest.mark.parametrize("field", ["semantic", "appearance"])
def test_each_filter_restricts_vector_search(index: MediaIndex, config: str, field: str) -> None:
    rng = np.random.default_rng(11)
    dim = DIM if field == "semantic" else APPEARANCE_DIM
    for name, f in FILTER_CASES.items():
        for viewer in (1, 2, None):
            allowed = kept(ROWS, viewer, f)
            query = _unit(rng, dim)
            # the whole collection (ef = limit covers every segment): exactly the rows kept
            hits = index.search(query, limit=N, viewer_id=viewer, filters=f, field=field)
            ids = [h.id for h in hits]
            assert set(ids) <= {r.id for r in allowed}, (name, viewer, config, field)
            expected = ranked(allowed, query, field)
            if config in EXACT or f.is_empty:
                assert_same_ranking(hits, expected, N)
            else:
                assert set(ids) == {r.id for r in allowed}, (name, viewer, config, field)
            # the top ten
            top = index.search(query, limit=10, viewer_id=viewer, filters=f, field=field)
            assert {h.id for h in top} <= {r.id for r in allowed}
            if config in EXACT:
                assert_same_ranking(top, expected, 10)


def test_date_bounds_are_inclusive_from_and_exclusive_to(index: MediaIndex) -> None:
    at = [r for r in ROWS if r.created == T20 and r.is_public]
    assert at
    q = np.zeros(DIM, dtype=np.float32)
    q[0] = 1.0
    got_from = {h.id for h in index.search(q, N, None, Filters(created_from=T20))}
    got_to = {h.id for h in index.search(q, N, None, Filters(created_to=T20))}
    got_point = {
        h.id for h in index.search(q, N, None, Filters(created_from=T20, created_to=T20 + 1))
    }
    assert {r.id for r in at} <= got_from
    assert not {r.id for r in at} & got_to
    assert got_point == {r.id for r in at}
    assert got_from.isdisjoint(got_to)


@pytest.mark.parametrize("field", ["caption", "ocr"])
def test_each_filter_restricts_text_search(index: MediaIndex, field: str) -> None:
    words = CAPTION_WORDS if field == "caption" else OCR_WORDS
    for name, f in FILTER_CASES.items():
        for viewer in (1, 2, None):
            for terms in (index_text(words[0]), index_text(f"{words[1]} {words[3]}")):
                expected = text_matches(kept(ROWS, viewer, f), terms, field)
                hits = index.search_text(terms, field, N, viewer, f)
                assert {h.id for h in hits} == expected, (name, viewer, field, terms)
                scores = [h.score for h in hits]
                assert all(s > 0 for s in scores)
                assert scores == sorted(scores, reverse=True)


def test_text_search_of_a_word_nobody_used_finds_nothing(index: MediaIndex) -> None:
    assert index.search_text(index_text("zebra"), "caption", 10, 1) == []
    assert index.search_text("", "ocr", 10, 1) == []


def test_owner_mine_without_a_viewer_finds_nothing(index: MediaIndex) -> None:
    q = _unit(np.random.default_rng(3), DIM)
    assert index.search(q, N, None, Filters(owner="mine")) == []
    assert (
        index.search_text(index_text(CAPTION_WORDS[0]), "caption", N, None, Filters(owner="mine"))
        == []
    )


def _random_filters(rng: np.random.Generator) -> Filters:
    f = Filters(owner=str(rng.choice(["any", "any", "mine", "public"])))
    if rng.random() < 0.4:
        f = replace(f, kind=str(rng.choice(KINDS)))
    if rng.random() < 0.4:
        f = replace(f, created_from=BASE + STEP * int(rng.integers(0, 50)))
    if rng.random() < 0.4:
        f = replace(f, created_to=BASE + STEP * int(rng.integers(0, 51)))
    if rng.random() < 0.4:
        picked = rng.choice(TAGS, size=int(rng.integers(1, 4)), replace=False)
        f = replace(f, tags=tuple(int(t) for t in picked))
    if rng.random() < 0.3:
        f = replace(f, flagged=bool(rng.random() < 0.5))
    return f


def test_no_viewer_ever_gets_another_users_private_row(index: MediaIndex, config: str) -> None:
    rng = np.random.default_rng(2024)
    for _ in range(60):
        viewer = [1, 2, 3, 4, None][int(rng.integers(0, 5))]
        f = _random_filters(rng)
        limit = int(rng.choice([1, 10, 50, N]))
        found: list[tuple[str, list[Hit]]] = [
            ("semantic", index.search(_unit(rng, DIM), limit, viewer, f)),
            (
                "appearance",
                index.search(_unit(rng, APPEARANCE_DIM), limit, viewer, f, "appearance"),
            ),
        ]
        for field, words in (("caption", CAPTION_WORDS), ("ocr", OCR_WORDS)):
            terms = index_text(" ".join(rng.choice(words, size=2)))
            found.append((field, index.search_text(terms, field, limit, viewer, f)))
        for channel, hits in found:
            for hit in hits:
                row = BY_ID[hit.id]
                assert may_see(row, viewer), (channel, viewer, f, row)
                assert passes(row, viewer, f), (channel, viewer, f, row)
            if config in EXACT and channel in ("semantic", "appearance"):
                assert len(hits) == min(limit, len(kept(ROWS, viewer, f)))


# -- writes: delete, visibility ----------------------------------------------------------


@pytest.fixture
def small(milvus_uri: str, config: str) -> Iterator[MediaIndex]:
    idx = filled(milvus_uri, config, ROWS[:60])
    try:
        yield idx
    finally:
        idx.drop()
        idx.close()


def _channels(
    index: MediaIndex, row: IndexRow, viewer: int | None, f: Filters
) -> dict[str, set[int]]:
    """The ids each channel returns for a query made from ``row`` itself."""
    return {
        "semantic": {h.id for h in index.search(row.vector, 60, viewer, f)},
        "appearance": {h.id for h in index.search(row.appearance, 60, viewer, f, "appearance")},
        "caption": {h.id for h in index.search_text(row.caption, "caption", 60, viewer, f)},
        "ocr": {h.id for h in index.search_text(row.ocr, "ocr", 60, viewer, f)},
    }


def _with_text(row: IndexRow) -> bool:
    return bool(row.caption and row.ocr)


def _filters_for(row: IndexRow) -> list[Filters]:
    """No filter (HNSW's graph), and filters that keep ``row`` (the exact path under HNSW's
    default fallback; the filtered graph walk without it)."""
    return [
        Filters(),
        Filters(kind=row.kind, flagged=row.flagged),
        Filters(tags=row.tags, created_from=row.created, created_to=row.created + 1),
    ]


def test_a_deleted_row_is_gone_from_every_channel(small: MediaIndex) -> None:
    row = next(r for r in ROWS[:60] if r.is_public and _with_text(r) and r.tags)
    for f in _filters_for(row):
        for viewer in (row.owner_id, None):
            assert all(row.id in ids for ids in _channels(small, row, viewer, f).values())
    small.delete([row.id])
    small.flush()
    assert small.count() == 59
    assert small.count(f"id == {row.id}") == 0
    for f in _filters_for(row):
        for viewer in (row.owner_id, None):
            for channel, ids in _channels(small, row, viewer, f).items():
                assert row.id not in ids, (channel, viewer, f)
    assert small.vectors([row.id]) == {}
    assert small.set_visibility(row.id, True) is False


def test_visibility_changes_reach_every_channel(small: MediaIndex) -> None:
    row = next(r for r in ROWS[:60] if r.is_public and _with_text(r) and r.tags)
    other = next(o for o in OWNERS if o != row.owner_id)
    owner = row.owner_id

    assert small.set_visibility(row.id, False) is True
    small.flush()
    for f in _filters_for(row):
        for viewer in (other, 4, None):
            for channel, ids in _channels(small, row, viewer, f).items():
                assert row.id not in ids, ("private", channel, viewer, f)
        for channel, ids in _channels(small, row, owner, f).items():
            assert row.id in ids, ("owner", channel, f)
        for channel, ids in _channels(small, row, owner, replace(f, owner="mine")).items():
            assert row.id in ids, ("owner, mine", channel, f)
        for channel, ids in _channels(small, row, owner, replace(f, owner="public")).items():
            assert row.id not in ids, ("owner, public", channel, f)
    # nothing but visibility changed: the stored fields and vectors are intact
    stored = small.vectors([row.id])[row.id]
    np.testing.assert_allclose(stored, row.vector, atol=1e-6)
    stored = small.vectors([row.id], field="appearance")[row.id]
    np.testing.assert_allclose(stored, row.appearance, atol=1e-6)
    assert small.count() == 60

    assert small.set_visibility(row.id, True) is True
    small.flush()
    for f in _filters_for(row):
        for viewer in (other, 4, None, owner):
            for channel, ids in _channels(small, row, viewer, f).items():
                assert row.id in ids, ("public again", channel, viewer, f)
        for channel, ids in _channels(small, row, other, replace(f, owner="public")).items():
            assert row.id in ids, ("public filter", channel, f)
    assert small.count() == 60


# -- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["semantic", "appearance"])
@pytest.mark.parametrize("case", ["none", "mine", "kind", "public-tag-range"])
def test_pages_are_disjoint_and_concatenate_to_the_top_list(
    index: MediaIndex, config: str, field: str, case: str
) -> None:
    f = FILTER_CASES[case]
    rng = np.random.default_rng(5)
    query = _unit(rng, DIM if field == "semantic" else APPEARANCE_DIM)
    viewer = 1
    size, pages = 7, 5
    allowed = kept(ROWS, viewer, f)
    top = index.search(query, size * pages, viewer, f, field)
    assert {h.id for h in top} <= {r.id for r in allowed}
    if config in EXACT or f.is_empty:
        assert len(top) == min(size * pages, len(allowed))
    if config in NARROW:
        # each page's walk has its own breadth (ef = max(16, offset + limit)), so pages of a
        # narrow walk may overlap; the engine never pages through Milvus (it asks once)
        for page in range(pages + 1):
            hits = index.search(query, size, viewer, f, field, offset=page * size)
            assert len(hits) <= size and {h.id for h in hits} <= {r.id for r in allowed}
        return
    seen: list[int] = []
    for page in range(pages + 1):  # one page past the end of a short list
        hits = index.search(query, size, viewer, f, field, offset=page * size)
        ids = [h.id for h in hits]
        assert not set(ids) & set(seen), (page, case, field)
        # each page is the matching slice of the single top-(offset+limit) list
        longer = index.search(query, size * (page + 1), viewer, f, field)
        assert ids == [h.id for h in longer][page * size :], (page, case, field)
        seen.extend(ids)
    assert seen[: size * pages] == [h.id for h in top]
    if config in EXACT:
        assert_same_ranking(top, ranked(allowed, query, field), size * pages)


def test_the_configured_hnsw_parameters_build_the_graph(milvus_uri: str, stack) -> None:
    """M and efConstruction reach Milvus Lite: read them back from the graph file it wrote.
    (pymilvus 3 sends them in a form milvus-lite 3.2 ignores; it then built every graph with
    its own defaults, M 16 and efConstruction 200, whatever the settings said.)"""
    import faiss  # milvus-lite's own dependency

    index = MediaIndex(
        milvus_uri,
        f"test_hnsw_params_{uuid.uuid4().hex[:12]}",
        dim=DIM,
        appearance_dim=APPEARANCE_DIM,
        timeout=30.0,
        index_type="HNSW",
        hnsw_m=6,
        hnsw_ef_construction=48,
    )
    index.ensure()
    try:
        index._call(lambda c: c.release_collection(index.collection, timeout=index.timeout))
        index.upsert(ROWS[:50])
        index.flush()
        index._call(lambda c: c.load_collection(index.collection, timeout=index.timeout))
        root = stack.var_dir / "milvus" / "collections" / index.collection
        files = sorted(root.glob("partitions/*/indexes/*.semantic.hnsw.idx"))
        assert files, f"no HNSW graph file under {root}"
        graph = faiss.read_index(str(files[0]))
        assert graph.hnsw.efConstruction == 48
        assert graph.hnsw.nb_neighbors(1) == 6  # M: the neighbours per node above layer 0
    finally:
        index.drop()
        index.close()
