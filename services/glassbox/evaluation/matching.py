"""Whether what a person named in a photo (``eval_data/annotations.json``) is named by the
analysis: its tags, its detected objects and its caption (numpy-free; the bank's hierarchy).

A named thing (:class:`Named`) is up to three facts, each in a category:

- its **noun** ("objects", or "people" when "person" is among its words): named by a tag
  whose concept is one of the thing's concepts or lies under one ("dog" by the classifier's
  "Eskimo dog", since dog.n.01 is among its ancestors; "animal" by a detected "dog"), by a
  detection whose COCO name is one of the thing's words (or its plural) or whose concept is
  so placed, or by a caption concept phrase with such a label or concept;
- its **count** ("counts"), 2 to 5 or "many" (six or more): named when a detection of the
  thing counts that many boxes, or when the caption's count phrase just before the thing's
  concept phrase says that number ("two", ..., "many");
- its **colour** ("colours"): named when a detection of the thing has that colour, or when the
  caption's colour phrase just before the thing's concept phrase is that colour.

A broader tag does not name a narrower thing ("dog" does not name "Eskimo dog"): the evidence
must be at least as specific as what the person said. :func:`recalled` is the whole rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glassbox.detection.english import plural as coco_plural
from glassbox.explain.english import NUMBER_WORDS
from glassbox.explain.english import plural as english_plural

MANY = 6  # "many": a count of at least this (the object caption spells out up to five)
CATEGORIES = ("objects", "people", "counts", "colours")


@dataclass(frozen=True)
class Named:
    """One thing a person named in a photo."""

    label: str  # the person's phrase: "two people", "a red bicycle"
    words: tuple[str, ...]  # any of these names it: ("bicycle", "bike")
    concepts: frozenset[int] = frozenset()  # bank rows it stands for
    count: int | str | None = None  # 2..5, or "many"
    colour: str | None = None
    people: bool = False

    @property
    def forms(self) -> frozenset[str]:
        """Its words and their plurals, lower case."""
        out = set()
        for word in self.words:
            w = word.lower()
            out |= {w, english_plural(w), coco_plural(w)}
        return frozenset(out)


@dataclass(frozen=True)
class SeenObject:
    name: str  # COCO class name
    concept_id: int | None
    count: int
    colour: str | None = None


@dataclass(frozen=True)
class SeenPhrase:
    kind: str  # "concept" | "count" | "colour" | "position" | "text"
    label: str
    concept_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Seen:
    """What one analysis names: its tags' concepts, its detected objects, its caption."""

    tags: tuple[int, ...] = ()
    objects: tuple[SeenObject, ...] = ()
    caption: tuple[SeenPhrase, ...] = field(default=())

    def caption_only(self) -> Seen:
        return Seen(caption=self.caption)


def seen_in(analysis: Any) -> Seen:
    """The :class:`Seen` of a ``glassbox.analysis.pipeline.Analysis``."""
    objects = tuple(
        SeenObject(
            name=str(o["name"]),
            concept_id=None if o.get("concept_id") is None else int(o["concept_id"]),
            count=int(o["count"]),
            colour=(o.get("colour") or {}).get("name"),
        )
        for o in analysis.objects
    )
    phrases = tuple(
        SeenPhrase(p.kind, p.label, tuple(int(c) for c in p.evidence.concept_ids))
        for p in analysis.caption.phrases
    )
    return Seen(tuple(int(t.concept_id) for t in analysis.tags), objects, phrases)


def named_from(entry: Mapping[str, Any], bank: Any) -> Named:
    """A :class:`Named` from an ``annotations.json`` entry: ``label``, ``what`` (words), and
    optionally ``count``, ``colour`` and ``concepts`` (wnids; else the bank's concepts of the
    words, ``bank.find``)."""
    words = tuple(str(w) for w in entry["what"])
    if not words:
        raise ValueError(f"{entry.get('label')!r}: no words")
    if "concepts" in entry:
        rows = {w: i for i, w in reversed(list(enumerate(bank.wnids)))}
        unknown = [w for w in entry["concepts"] if w not in rows]
        if unknown:
            raise ValueError(f"{entry['label']!r}: {unknown} are not concepts of the bank")
        concepts = frozenset(rows[w] for w in entry["concepts"])
    else:
        concepts = frozenset(i for w in words for i in bank.find(w))
    count = entry.get("count")
    if count is not None and count != "many" and not (isinstance(count, int) and count >= 2):
        raise ValueError(f"{entry['label']!r}: a count is 2 or more, or 'many'; got {count!r}")
    return Named(
        label=str(entry["label"]),
        words=words,
        concepts=concepts,
        count=count,
        colour=entry.get("colour"),
        people="person" in words,
    )


def under(concept_id: int | None, named: Named, bank: Any) -> bool:
    """Whether ``concept_id`` is one of the thing's concepts or lies under one."""
    if concept_id is None or not named.concepts:
        return False
    return concept_id in named.concepts or any(
        a in named.concepts for a in bank.ancestors(concept_id)
    )


def _count_is(n: int, named: Named) -> bool:
    return n >= MANY if named.count == "many" else n == named.count


_NUMBERS = {word: n for n, word in NUMBER_WORDS.items()}


def _count_word_is(word: str, named: Named) -> bool:
    word = word.lower()
    if word == "many":
        return named.count == "many"
    return word in _NUMBERS and _count_is(_NUMBERS[word], named)


def recalled(named: Named, seen: Seen, bank: Any) -> dict[str, bool]:
    """Which of the thing's facts ``seen`` names: ``{"noun": …}`` plus ``"count"`` and
    ``"colour"`` when the thing has them (rules in the module docstring)."""
    forms = named.forms
    objects = [
        o for o in seen.objects if o.name.lower() in forms or under(o.concept_id, named, bank)
    ]
    phrases = list(seen.caption)

    def names_it(k: int) -> bool:
        p = phrases[k] if 0 <= k < len(phrases) else None
        return (
            p is not None
            and p.kind == "concept"
            and (p.label.lower() in forms or any(under(c, named, bank) for c in p.concept_ids))
        )

    in_caption = [k for k in range(len(phrases)) if names_it(k)]
    out = {"noun": bool(objects or in_caption or any(under(c, named, bank) for c in seen.tags))}
    if named.count is not None:
        out["count"] = any(_count_is(o.count, named) for o in objects) or any(
            phrases[k - 1].kind == "count" and _count_word_is(phrases[k - 1].label, named)
            for k in in_caption
            if k > 0
        )
    if named.colour is not None:
        colour = named.colour.lower()
        out["colour"] = any((o.colour or "").lower() == colour for o in objects) or any(
            phrases[k - 1].kind == "colour" and phrases[k - 1].label.lower() == colour
            for k in in_caption
            if k > 0
        )
    return out


def category(named: Named, fact: str) -> str:
    """The category a fact of ``named`` counts in: objects, people, counts or colours."""
    if fact == "count":
        return "counts"
    if fact == "colour":
        return "colours"
    return "people" if named.people else "objects"


@dataclass(frozen=True)
class Recall:
    """Facts named and facts in all, overall and per category."""

    found: Mapping[str, int]
    total: Mapping[str, int]

    @property
    def share(self) -> float:
        total = sum(self.total.values())
        return sum(self.found.values()) / total if total else float("nan")

    def of(self, name: str) -> float:
        return self.found.get(name, 0) / self.total[name] if self.total.get(name) else float("nan")


def recall_over(
    items: Iterable[tuple[Sequence[Named], Seen]], bank: Any, caption_only: bool = False
) -> Recall:
    """The share of the facts named over photos ``(named things, seen)``; with
    ``caption_only``, by the caption alone."""
    found = dict.fromkeys(CATEGORIES, 0)
    total = dict.fromkeys(CATEGORIES, 0)
    for things, seen in items:
        seen = seen.caption_only() if caption_only else seen
        for named in things:
            for fact, hit in recalled(named, seen, bank).items():
                c = category(named, fact)
                total[c] += 1
                found[c] += bool(hit)
    return Recall(found, total)
