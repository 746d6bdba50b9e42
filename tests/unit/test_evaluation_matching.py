"""How the evaluation decides that what a person named is named by the analysis
(glassbox.evaluation.matching), and how it judges the detector's boxes
(glassbox.evaluation.objects.judge_boxes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from glassbox.concepts import ConceptBank
from glassbox.evaluation.matching import (
    Named,
    Seen,
    SeenObject,
    SeenPhrase,
    named_from,
    recall_over,
    recalled,
)
from glassbox.evaluation.objects import Truth, judge_boxes, precision_by_class

# leaves 0 Eskimo dog, 1 tabby, 2 sorrel; broader 3 dog, 4 animal, 5 cat
WNIDS = ("n02109961", "n02123045", "n02389026", "n02084071", "n00015388", "n02121620")
NAMES = ("Eskimo dog", "tabby", "sorrel", "dog", "animal", "cat")
MEMBERS = np.array([[1, 0, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
ESKIMO, TABBY, SORREL, DOG, ANIMAL, CAT = range(6)


@pytest.fixture(scope="module")
def bank() -> ConceptBank:
    return ConceptBank(
        wnids=WNIDS,
        names=NAMES,
        glosses=("",) * 6,
        embeddings=np.eye(6, dtype=np.float32),
        version="test",
        members=MEMBERS,
    )


def thing(words, concepts=(), **kw) -> Named:
    return Named(
        label=" ".join(words),
        words=tuple(words),
        concepts=frozenset(concepts),
        people="person" in words,
        **kw,
    )


def caption(*parts: tuple[str, str] | tuple[str, str, tuple[int, ...]]) -> tuple:
    return tuple(SeenPhrase(p[0], p[1], p[2] if len(p) > 2 else ()) for p in parts)


def test_a_tag_at_or_under_the_named_concept_names_it_but_a_broader_one_does_not(bank):
    dog = thing(["dog"], [DOG])
    assert recalled(dog, Seen(tags=(ESKIMO,)), bank) == {"noun": True}  # dog.n.01 above it
    assert recalled(dog, Seen(tags=(DOG,)), bank) == {"noun": True}
    assert recalled(dog, Seen(tags=(TABBY, ANIMAL)), bank) == {"noun": False}
    eskimo = thing(["Eskimo dog"], [ESKIMO])
    assert recalled(eskimo, Seen(tags=(DOG,)), bank) == {"noun": False}  # less specific
    animal = thing(["animal"], [ANIMAL])
    assert recalled(animal, Seen(objects=(SeenObject("dog", DOG, 1),)), bank)["noun"]


def test_a_detection_names_a_thing_by_its_coco_word_or_plural_without_any_concept(bank):
    kites = thing(["kite"], (), count="many")
    seen = Seen(objects=(SeenObject("kite", None, 7),))
    assert recalled(kites, seen, bank) == {"noun": True, "count": True}
    assert recalled(kites, Seen(objects=(SeenObject("kite", None, 5),)), bank)["count"] is False
    assert recalled(kites, Seen(caption=caption(("count", "Two"), ("concept", "kites"))), bank) == {
        "noun": True,
        "count": False,
    }
    assert not recalled(kites, Seen(objects=(SeenObject("bird", None, 7),)), bank)["noun"]


def test_a_count_is_named_by_the_detections_number_or_the_caption_word_before_the_noun(bank):
    two = thing(["person"], (), count=2)
    assert recalled(two, Seen(objects=(SeenObject("person", None, 2),)), bank)["count"]
    assert not recalled(two, Seen(objects=(SeenObject("person", None, 3),)), bank)["count"]
    said = caption(("count", "Two"), ("concept", "people"))
    assert recalled(two, Seen(caption=said), bank) == {"noun": True, "count": True}
    # "two" before another noun counts nothing for the people
    other = caption(
        ("count", "Two"), ("concept", "kites"), ("position", "above"), ("concept", "people")
    )
    assert recalled(two, Seen(caption=other), bank) == {"noun": True, "count": False}
    many = thing(["person"], (), count="many")
    assert recalled(many, Seen(caption=caption(("count", "Many"), ("concept", "people"))), bank)[
        "count"
    ]


def test_a_colour_is_the_things_own_not_a_neighbours(bank):
    bicycle = thing(["bicycle"], (), colour="red")
    dog = thing(["dog"], [DOG], colour="red")
    said = caption(
        ("colour", "red"),
        ("concept", "bicycle"),
        ("position", "behind"),
        ("concept", "dog", (DOG,)),
    )
    assert recalled(bicycle, Seen(caption=said), bank) == {"noun": True, "colour": True}
    assert recalled(dog, Seen(caption=said), bank) == {"noun": True, "colour": False}
    seen = Seen(objects=(SeenObject("bicycle", None, 1, "red"), SeenObject("dog", DOG, 1, "black")))
    assert recalled(bicycle, seen, bank)["colour"] and not recalled(dog, seen, bank)["colour"]


def test_recall_counts_facts_by_category_and_the_caption_alone_drops_tags_and_objects(bank):
    things = [
        thing(["dog"], [DOG]),
        thing(["person"], (), count=2),
        thing(["cat"], [CAT], colour="white"),
    ]
    seen = Seen(
        tags=(TABBY,),
        objects=(SeenObject("person", None, 2),),
        caption=caption(("concept", "dog", (DOG,))),
    )
    r = recall_over([(things, seen)], bank)
    assert dict(r.total) == {"objects": 2, "people": 1, "counts": 1, "colours": 1}
    assert dict(r.found) == {"objects": 2, "people": 1, "counts": 1, "colours": 0}
    assert r.share == pytest.approx(4 / 5) and r.of("colours") == 0.0
    alone = recall_over([(things, seen)], bank, caption_only=True)
    assert dict(alone.found) == {"objects": 1, "people": 0, "counts": 0, "colours": 0}
    assert math.isnan(recall_over([], bank).share)


def test_annotation_entries_take_the_banks_concepts_or_the_wnids_given(bank):
    found = named_from({"label": "a dog", "what": ["dog"]}, bank)
    assert found.concepts == {DOG} and not found.people
    given = named_from({"label": "a horse", "what": ["horse"], "concepts": ["n02389026"]}, bank)
    assert given.concepts == {SORREL}
    none = named_from({"label": "a kite", "what": ["kite"], "concepts": []}, bank)
    assert none.concepts == frozenset()
    people = named_from({"label": "two people", "what": ["person"], "count": 2}, bank)
    assert people.people and people.count == 2
    with pytest.raises(ValueError, match="not concepts"):
        named_from({"label": "x", "what": ["x"], "concepts": ["n99999999"]}, bank)
    with pytest.raises(ValueError, match="count"):
        named_from({"label": "x", "what": ["x"], "count": 1}, bank)


def test_boxes_are_correct_at_iou_one_half_once_each_and_ignored_over_ignore_regions():
    truth = [
        Truth(frozenset({"dog"}), (0, 0, 100, 100)),
        Truth(frozenset({"truck", "car"}), (200, 0, 300, 100)),
        Truth(frozenset({"person"}), (0, 200, 400, 400), ignore=True),
    ]
    found = [
        ("dog", (0, 0, 100, 90), 0.9),  # IoU 0.9
        ("dog", (5, 5, 100, 100), 0.8),  # the same dog again
        ("car", (210, 0, 300, 100), 0.7),  # either reading of the pickup
        ("person", (50, 250, 100, 350), 0.6),  # inside the crowd
        ("person", (0, 0, 100, 100), 0.95),  # no person there
        ("cat", (0, 0, 60, 60), 0.5),  # IoU 0.36 with the dog, and the wrong class
    ]
    verdicts = judge_boxes(found, truth)
    assert verdicts == ["tp", "fp", "tp", "ignored", "fp", "fp"]
    from glassbox.evaluation.objects import Judged

    judged = [Judged("x.jpg", c, s, v) for (c, _, s), v in zip(found, verdicts, strict=True)]
    assert precision_by_class(judged) == {
        "car": (1, 0),
        "cat": (0, 1),
        "dog": (1, 1),
        "person": (0, 1),
    }
