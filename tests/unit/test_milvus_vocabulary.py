"""The lexical channels' word sets: a channel is skipped only when a complete set holds none
of the query's words, and never trusted short of a word (``glassbox.clients.milvus.vocabulary``)."""

from __future__ import annotations

import pytest
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.vocabulary import BUILT, Vocabulary, lookups, tokens


class FakeRedis:
    """The few Redis commands the vocabulary uses, in memory; ``down`` makes each fail."""

    def __init__(self) -> None:
        self.sets: dict[str, set[str]] = {}
        self.strings: dict[str, str] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("redis is down")

    def sadd(self, key: str, *members: str) -> None:
        self._check()
        self.sets.setdefault(key, set()).update(members)

    def smismember(self, key: str, members: list[str]) -> list[int]:
        self._check()
        return [int(m in self.sets.get(key, set())) for m in members]

    def delete(self, *keys: str) -> None:
        self._check()
        for k in keys:
            self.sets.pop(k, None)
            self.strings.pop(k, None)

    def set(self, key: str, value: str, nx: bool = False, ex: int | None = None) -> bool:
        self._check()
        if nx and key in self.strings:
            return False
        self.strings[key] = value
        return True

    def pipeline(self, transaction: bool = False) -> FakeRedis:
        return _Pipe(self)


class _Pipe:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis, self.ops = redis, []

    def sadd(self, key: str, *members: str) -> None:
        self.ops.append((key, members))

    def execute(self) -> None:
        for key, members in self.ops:
            self.redis.sadd(key, *members)


@pytest.fixture
def vocab() -> Vocabulary:
    v = Vocabulary("redis://unused", "media")
    v._redis = FakeRedis()
    return v


ROWS = [{"caption": "dog grass", "ocr": ""}, {"caption": "cat sofa", "ocr": "exit 42"}]


def scan(fields):
    return [{f: r[f] for f in fields} for r in ROWS]


def test_unknown_until_built_then_exact_about_absent_words(vocab):
    assert vocab.may_match("ocr", ["dog"]) is None  # no complete set: search
    assert vocab.build(["caption", "ocr"], scan)
    assert vocab.may_match("ocr", ["dog"]) is False
    assert vocab.may_match("ocr", ["dog", "exit"]) is True
    assert vocab.may_match("caption", ["dog"]) is True
    assert vocab.may_match("caption", ["exit"]) is False


def test_words_added_by_an_upsert_are_found_at_once(vocab):
    vocab.build(["caption", "ocr"], scan)
    vocab.add({"caption": set(), "ocr": tokens("bakery open")})
    assert vocab.may_match("ocr", ["bakery"]) is True


def test_non_ascii_stems_are_always_searched(vocab):
    vocab.build(["caption", "ocr"], scan)
    # the standard tokenizer splits CJK into characters: a stored stem may match in part
    assert lookups(["東京"]) is None
    assert vocab.may_match("ocr", ["東京"]) is True
    assert vocab.may_match("ocr", ["café"]) is True


def test_ascii_runs_of_stored_stems_are_members():
    assert tokens("東京tower don't") >= {"東京tower", "tower", "don't", "don", "t"}
    assert lookups(["don't"]) == ["don't", "don", "t"]


def test_redis_down_means_unknown_and_a_failed_add_voids_the_set(vocab):
    vocab.build(["caption", "ocr"], scan)
    vocab._redis.down = True
    assert vocab.may_match("ocr", ["dog"]) is None
    vocab.add({"caption": set(), "ocr": {"pizza"}})  # lost: the row is written anyway
    vocab._redis.down = False
    # the set that missed "pizza" is deleted, not trusted: search until rebuilt
    assert vocab.may_match("ocr", ["pizza"]) is None
    assert vocab.may_match("caption", ["exit"]) is False  # the other channel was complete


def test_a_failed_build_leaves_the_set_unmarked(vocab):
    def broken(fields):
        yield {"caption": "dog", "ocr": ""}
        raise RuntimeError("milvus went away")

    with pytest.raises(RuntimeError):
        vocab.build(["caption", "ocr"], broken)
    assert BUILT not in vocab._redis.sets.get(vocab.key("ocr"), set())
    assert vocab.may_match("ocr", ["cat"]) is None
    assert vocab.build(["caption", "ocr"], scan)  # the lock was released


def test_search_text_skips_a_channel_that_cannot_match(vocab, monkeypatch):
    index = MediaIndex("http://unused", "media", vocabulary=vocab)
    calls: list[str] = []
    monkeypatch.setattr(index, "_call", lambda fn: calls.append("milvus") or [[]])
    vocab.build(["caption", "ocr"], scan)
    assert index.search_text("dog", "ocr", 48, 1) == []
    assert calls == []  # no Milvus round trip
    index.search_text("dog", "caption", 48, 1)
    assert calls == ["milvus"]


def test_upsert_adds_words_before_the_row_is_written(vocab, monkeypatch):
    import numpy as np
    from glassbox.clients.milvus.schema import IndexRow

    index = MediaIndex("http://unused", "media", dim=4, appearance_dim=4, vocabulary=vocab)
    vocab.build(["caption", "ocr"], scan)
    seen: list[bool | None] = []
    monkeypatch.setattr(index, "_call", lambda fn: seen.append(vocab.may_match("ocr", ["sale"])))
    row = IndexRow(
        id=7,
        vector=np.ones(4, np.float32) / 2,
        owner_id=1,
        is_public=False,
        kind="image",
        created=0,
        appearance=np.ones(4, np.float32) / 2,
        ocr="sale today",
    )
    index.upsert([row])
    assert seen == [True]  # the word was there when the row was written
