"""Which words occur in each lexical channel, so a BM25 search that can match nothing is
skipped.

A BM25 call costs Milvus Lite the same whether it finds rows or not (6-7 ms at 10 000 rows on
2 cores, most of it building each segment's filter mask; an unfiltered probe costs as much),
and most photos carry no text: the OCR channel's call usually finds nothing. So the words of
every row written are kept in a Redis set per collection and channel, shared by the web
processes and the workers, and a channel none of whose query words is in its set is not
searched.

Correct by construction as a **superset**: ``MediaIndex.upsert`` adds a row's words *before*
writing the row, deletes never remove words, and a set is trusted only once it holds the
``BUILT`` marker, which ``build`` adds after scanning every row of the collection (words
written meanwhile were added by their upserts). A lost set (Redis restarted, the collection
dropped) loses its marker with it, so the channel is searched until a build completes again.
Any Redis error means "unknown": search. A process that could not add a row's words deletes
that channel's set when Redis answers again (until then the other processes, failing to reach
Redis too, search). Redis must not evict keys (the broker's ``noeviction``), or a set could
lose words and keep its marker.

Tokens: Milvus's ``standard`` tokenizer splits text its own way (CJK into characters, for
example), so the set also holds every ASCII letter-and-digit run of each stored stem, and only
a query stem made of such runs is looked up; any other query stem counts as present.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

BUILT = ""  # member that marks a complete set (never a word: words are non-empty)
PREFIX = "glassbox:vocabulary"
BUILD_LOCK_S = 900  # one build at a time across processes; a dead builder's lock expires
_RUN = re.compile(r"[a-z0-9]+")
_ASCII_STEM = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokens(text: str) -> set[str]:
    """What a stored field's text adds to its channel's set: each stem and its ASCII runs."""
    out: set[str] = set()
    for stem in text.split():
        out.add(stem)
        out.update(_RUN.findall(stem))
    return out


def lookups(stems: Iterable[str]) -> list[str] | None:
    """The set members to look up for query ``stems`` (any present: the channel may match),
    or None when a stem is not plain ASCII (the tokenizer may split it: always search)."""
    out: list[str] = []
    for stem in stems:
        if not _ASCII_STEM.fullmatch(stem):
            return None
        out.append(stem)
        out += _RUN.findall(stem)
    return list(dict.fromkeys(out))


class Vocabulary:
    """The Redis sets of one collection's lexical channels."""

    def __init__(self, redis_url: str, collection: str, timeout: float = 1.0) -> None:
        self.redis_url = redis_url
        self.collection = collection
        self.timeout = timeout
        self._redis: Any = None
        self._building = threading.Event()
        self._dirty: set[str] = set()  # channels whose words this process failed to add

    def key(self, field: str) -> str:
        return f"{PREFIX}:{self.collection}:{field}"

    def add(self, words: dict[str, set[str]]) -> None:
        """Add words by channel before their rows are written. When Redis cannot be reached
        the row is still written (indexing must not depend on this cache), and the channel's
        set is deleted as soon as Redis answers again, so it is rebuilt, never trusted short
        of a word."""
        try:
            self._heal()
            self._store(words)
        except Exception as exc:
            self._dirty.update(f for f, found in words.items() if found)
            log.warning("vocabulary of %s not updated: %s", self.collection, exc)

    def _store(self, words: dict[str, set[str]], marked: bool = False) -> None:
        """SADD the words (and with ``marked`` the ``BUILT`` marker) in one round trip."""
        pipe = self._client().pipeline(transaction=False)
        for field, found in words.items():
            members = [*found, BUILT] if marked else list(found)
            if members:
                pipe.sadd(self.key(field), *members)
        pipe.execute()

    def _heal(self) -> None:
        """Delete the sets this process failed to add words to (raises if Redis is down)."""
        if self._dirty:
            self._client().delete(*(self.key(f) for f in self._dirty))
            self._dirty.clear()

    def may_match(self, field: str, stems: Iterable[str]) -> bool | None:
        """Whether a row of ``field`` may hold one of ``stems``: False only when the complete
        set holds none of them; None when unknown (no complete set, or Redis unreachable)."""
        wanted = lookups(stems)
        if wanted is None:
            return True
        if not wanted:
            return False
        try:
            self._heal()
            found = self._client().smismember(self.key(field), [BUILT, *wanted])
        except Exception as exc:  # redis.RedisError and connection errors alike
            log.warning("vocabulary of %s unavailable: %s", self.collection, exc)
            return None
        if not found[0]:
            return None
        return any(found[1:])

    def clear(self, fields: Iterable[str]) -> None:
        """Forget the sets (the collection was dropped); best effort."""
        try:
            self._client().delete(*(self.key(f) for f in fields))
        except Exception as exc:
            log.warning("could not clear the vocabulary of %s: %s", self.collection, exc)

    def build(self, fields: Iterable[str], scan: Callable[[list[str]], Iterable[dict]]) -> bool:
        """Fill the sets from every stored row (``scan(fields)`` yields them) and mark them
        complete. One build at a time across processes; False if another holds the lock."""
        fields = list(fields)
        client = self._client()
        lock = f"{PREFIX}:{self.collection}:building"
        if not client.set(lock, "1", nx=True, ex=BUILD_LOCK_S):
            return False
        try:
            batch: dict[str, set[str]] = {f: set() for f in fields}
            for row in scan(fields):
                for f in fields:
                    batch[f] |= tokens(str(row.get(f) or ""))
                if sum(len(v) for v in batch.values()) >= 10_000:
                    self._store(batch)  # raises: an incomplete set is never marked
                    batch = {f: set() for f in fields}
            self._store(batch, marked=True)
            return True
        finally:
            client.delete(lock)

    def build_in_background(
        self, fields: Iterable[str], scan: Callable[[list[str]], Iterable[dict]]
    ) -> None:
        """Start ``build`` in a daemon thread unless this process already runs one."""
        if self._building.is_set():
            return
        self._building.set()
        fields = list(fields)

        def run() -> None:
            try:
                self.build(fields, scan)
            except Exception as exc:
                log.warning("vocabulary build of %s failed: %s", self.collection, exc)
            finally:
                self._building.clear()

        threading.Thread(target=run, name="vocabulary-build", daemon=True).start()

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                decode_responses=True,
            )
        return self._redis
