"""The lexical channels' word sets against a real ``milvus-lite server`` and a real Redis:
a channel none of whose words occurs is skipped, and uploads, shots and drops keep the sets
right (``glassbox.clients.milvus.vocabulary``)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.schema import TEXT_FIELDS, IndexRow, shot_row_id
from glassbox.clients.milvus.vocabulary import Vocabulary

pytestmark = pytest.mark.integration

DIM = 8


def row(key: int, caption: str = "", ocr: str = "", **kw) -> IndexRow:
    v = np.random.default_rng(abs(key)).normal(size=DIM).astype(np.float32)
    return IndexRow(
        key, v / np.linalg.norm(v), 1, True, "image", 1_700_000_000,
        caption=caption, ocr=ocr, **kw,
    )  # fmt: skip


class CountingIndex(MediaIndex):
    """Counts the BM25 calls that reach Milvus."""

    bm25_calls = 0

    def _call(self, fn):
        import inspect

        if "search_text" in [f.function for f in inspect.stack()[1:4]]:
            self.bm25_calls += 1
        return super()._call(fn)


@pytest.fixture
def index(milvus_uri: str, redis_service: str):
    name = f"test_{uuid.uuid4().hex[:12]}"
    idx = CountingIndex(
        milvus_uri, name, dim=DIM, appearance_dim=DIM, vocabulary=Vocabulary(redis_service, name)
    )
    idx.ensure()
    yield idx
    idx.drop()
    idx.close()


def ids(hits) -> set[int]:
    return {h.id for h in hits}


def test_words_of_rows_written_before_and_after_the_build_are_found(index):
    index.upsert([row(1, caption="dog grass"), row(2, caption="cat", ocr="bakery open")])
    index.flush()
    assert index.vocabulary.may_match("ocr", ["exit"]) is None  # no complete set yet
    assert index.vocabulary.build(TEXT_FIELDS, index._text_rows)

    before = index.bm25_calls
    assert index.search_text("exit", "ocr", 10, 1) == []
    assert index.bm25_calls == before  # skipped: no row holds "exit"
    assert ids(index.search_text("bakery", "ocr", 10, 1)) == {2}
    assert index.bm25_calls == before + 1  # this one reached Milvus

    # an upload after the build: its words are in the set before its row is searchable
    index.upsert([row(3, ocr="exit only")])
    index.flush()
    assert ids(index.search_text("exit", "ocr", 10, 1)) == {3}
    # a video's shot row counts too
    index.upsert([row(shot_row_id(4, 0), ocr="platform", item_id=4, shot=0)])
    index.flush()
    assert ids(index.search_text("platform", "ocr", 10, 1)) == {shot_row_id(4, 0)}


def test_a_deleted_rows_words_stay_harmlessly_and_a_drop_forgets_the_set(index):
    index.upsert([row(1, ocr="sale")])
    index.flush()
    index.vocabulary.build(TEXT_FIELDS, index._text_rows)
    index.delete([1])
    index.flush()
    assert index.search_text("sale", "ocr", 10, 1) == []  # searched, found nothing
    index.drop()
    assert index.vocabulary.may_match("ocr", ["sale"]) is None
    index.ensure()


def test_a_search_without_a_complete_set_builds_one_in_the_background(index):
    import time

    index.upsert([row(1, caption="harbour boat")])
    index.flush()
    assert ids(index.search_text("boat", "caption", 10, 1)) == {1}  # searched meanwhile
    deadline = time.monotonic() + 30
    while index.vocabulary.may_match("caption", ["tram"]) is None:
        assert time.monotonic() < deadline, "the background build never completed"
        time.sleep(0.2)
    assert index.vocabulary.may_match("caption", ["tram"]) is False
    assert index.vocabulary.may_match("caption", ["harbour"]) is True
