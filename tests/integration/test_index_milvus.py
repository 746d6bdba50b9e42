"""MediaIndex against a real ``milvus-lite server`` (the session's ``milvus_uri`` fixture)."""

from __future__ import annotations

import socket
import uuid

import numpy as np
import pytest
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.errors import IndexUnavailable
from glassbox.clients.milvus.schema import IndexRow, item_of, shot_row_id
from glassbox.clients.milvus.search import Hit

pytestmark = pytest.mark.integration

DIM = 8


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def row(item_id: int, owner: int, public: bool, seed: int | None = None) -> IndexRow:
    return IndexRow(
        item_id, unit(item_id if seed is None else seed), owner, public, "image", 1_700_000_000
    )


@pytest.fixture
def index(milvus_uri: str):
    idx = MediaIndex(milvus_uri, f"test_{uuid.uuid4().hex[:12]}", dim=DIM, timeout=10.0)
    idx.ensure()
    yield idx
    idx.drop()
    idx.close()


def test_ensure_is_idempotent(index: MediaIndex) -> None:
    index.ensure()
    assert index.health()[0] is True


def test_upserting_the_same_id_twice_keeps_one_row(index: MediaIndex) -> None:
    index.upsert([row(1, owner=10, public=True)])
    index.upsert([row(1, owner=10, public=True, seed=99)])
    index.flush()
    assert index.count() == 1
    (hit,) = index.search(unit(99), limit=5, viewer_id=10)
    assert hit.id == 1 and hit.score == pytest.approx(1.0, abs=1e-5)  # the second write won


def test_deleted_items_are_gone(index: MediaIndex) -> None:
    index.upsert([row(1, 10, True), row(2, 10, True)])
    index.delete([1])
    index.flush()
    assert index.count() == 1
    assert [h.id for h in index.search(unit(1), limit=5, viewer_id=10)] == [2]


def shot(item_id: int, n: int, owner: int = 10, public: bool = True) -> IndexRow:
    return IndexRow(
        shot_row_id(item_id, n),
        unit(1000 * item_id + n),
        owner,
        public,
        "video",
        1_700_000_000,
        item_id=item_id,
        shot=n,
        start_s=2.0 * n,
        end_s=2.0 * n + 2,
    )


def test_a_videos_shot_rows_sit_beside_its_item_row_and_go_with_it(index: MediaIndex) -> None:
    index.upsert([row(1, 10, True), row(7, 10, True), *(shot(7, n) for n in range(3))])
    index.flush()
    assert index.count() == 5 and index.count("id >= 0") == 2
    assert index.all_ids() == [1, 7] and index.shot_item_ids() == {7}
    (best,) = index.search(unit(7001), limit=1, viewer_id=10)
    assert item_of(best.id) == (7, 1)  # the shot that looks like the query
    index.delete_shots_from(7, 1)  # a re-analysis found one shot
    index.flush()
    assert index.count() == 3
    index.delete([7])  # deleting the video removes its item row and every shot row
    index.flush()
    assert index.all_ids() == [1] and index.shot_item_ids() == set()


def test_a_private_videos_shots_are_hidden_from_others(index: MediaIndex) -> None:
    index.upsert([shot(9, 0, owner=10, public=False)])
    index.flush()
    assert index.search(unit(9000), limit=5, viewer_id=11) == []
    assert [item_of(h.id) for h in index.search(unit(9000), limit=5, viewer_id=10)] == [(9, 0)]


def test_a_user_never_sees_another_users_private_items(index: MediaIndex) -> None:
    alice, bob = 1, 2
    index.upsert([row(1, alice, False), row(2, alice, True), row(3, bob, False), row(4, bob, True)])
    index.flush()
    for seed in range(1, 5):
        assert {h.id for h in index.search(unit(seed), limit=10, viewer_id=alice)} == {1, 2, 4}
        assert {h.id for h in index.search(unit(seed), limit=10, viewer_id=bob)} == {2, 3, 4}
        assert {h.id for h in index.search(unit(seed), limit=10, viewer_id=None)} == {2, 4}


def test_making_an_item_private_hides_it_from_others(index: MediaIndex) -> None:
    index.upsert([row(1, owner=1, public=True)])
    assert index.set_visibility(1, is_public=False) is True
    index.flush()
    assert index.search(unit(1), limit=5, viewer_id=2) == []
    assert [h.id for h in index.search(unit(1), limit=5, viewer_id=1)] == [1]
    assert index.set_visibility(404, is_public=True) is False


def test_scores_are_inner_products_best_first(index: MediaIndex) -> None:
    rows = [row(i, owner=1, public=True) for i in range(1, 21)]
    index.upsert(rows)
    index.flush()
    query = unit(1234)
    hits = index.search(query, limit=20, viewer_id=1)
    expected = sorted(((r.id, float(r.vector @ query)) for r in rows), key=lambda p: -p[1])
    assert [h.id for h in hits] == [i for i, _ in expected]
    for hit, (_, score) in zip(hits, expected, strict=True):
        assert hit.score == pytest.approx(score, abs=1e-5)
    assert all(isinstance(h, Hit) for h in hits)


def test_wrong_dimension_is_rejected_before_reaching_milvus(index: MediaIndex) -> None:
    with pytest.raises(ValueError):
        index.upsert([IndexRow(1, np.ones(DIM + 1), 1, True, "image", 0)])


def test_unreachable_milvus_is_reported_as_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    idx = MediaIndex(f"http://127.0.0.1:{port}", "nothing", dim=DIM, timeout=2.0)
    ok, detail = idx.health()
    assert ok is False and str(port) in detail
    with pytest.raises(IndexUnavailable):
        idx.search(unit(0), limit=1, viewer_id=1)
