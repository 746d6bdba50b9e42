"""Raw detections into object evidence: thresholds, tiny boxes, duplicates, crowds, counts,
positions, depth and the justification text."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from glassbox import evidence_types
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.detection import objects
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.detection.english import count_phrase, plural
from glassbox.detection.objects import (
    DEFAULT_THRESHOLD,
    RULES,
    THRESHOLDS,
    depth,
    horizontal_position,
    iou,
    object_evidence,
    suppress,
    threshold_for,
)

PERSON, BICYCLE, CAR, TRUCK, DOG, HORSE, COW, CAKE, TABLE, CELL = 1, 2, 3, 8, 18, 19, 21, 61, 67, 77
# dog.jpg (768x576): the dog in front of the bicycle, the truck behind it, up the street
DOG_JPG = [
    (DOG, (0.16, 0.39, 0.41, 0.93), 0.98),
    (BICYCLE, (0.17, 0.22, 0.74, 0.73), 0.93),
    (TRUCK, (0.61, 0.13, 0.90, 0.30), 0.80),
]


# what SSD-MobileNetV2 answers on dog.jpg (docs/decisions.md, "Issue 11: the object detector");
# its truck and cat lie "on the car's and the dog's boxes", taken as a hair off them here
MEASURED = [
    (BICYCLE, (0.10, 0.23, 0.71, 0.71), 0.98),
    (DOG, (0.18, 0.36, 0.41, 0.93), 0.88),
    (CAR, (0.59, 0.14, 0.90, 0.29), 0.75),
    (TRUCK, (0.60, 0.14, 0.90, 0.30), 0.57),
    (17, (0.18, 0.37, 0.41, 0.92), 0.48),
]


def by_name(found):
    return {e.name: e for e in found}


def test_the_threshold_table_names_real_classes_each_stricter_with_a_reason():
    assert set(THRESHOLDS) <= set(COCO_LABELS.values())
    for name, (value, why) in THRESHOLDS.items():
        assert DEFAULT_THRESHOLD < value < 1, name
        assert len(why) > 20, name
    assert threshold_for(CAKE) == 0.6 and threshold_for(COW) == 0.6
    assert threshold_for(TABLE) > DEFAULT_THRESHOLD
    assert threshold_for(DOG) == DEFAULT_THRESHOLD == threshold_for(999)


def test_the_screams_cake_and_the_horses_cow_are_dropped_but_confident_ones_kept():
    scream = object_evidence(
        [(PERSON, (0.3, 0.3, 0.7, 0.9), 0.7), (CAKE, (0.2, 0.5, 0.8, 1), 0.52)]
    )
    assert [e.name for e in scream] == ["person"]
    horses = [(HORSE, (0.0, 0.3, 0.4, 0.9), 0.94), (COW, (0.5, 0.4, 0.8, 0.9), 0.56)]
    assert [e.name for e in object_evidence(horses)] == ["horse"]
    assert [e.name for e in object_evidence([(CAKE, (0.2, 0.2, 0.6, 0.6), 0.61)])] == ["cake"]
    # a caller's own calibration replaces the table, per class id
    assert [e.name for e in object_evidence(horses, thresholds={COW: 0.55})] == ["horse", "cow"]


def test_scores_below_the_default_threshold_are_dropped():
    found = object_evidence([(DOG, (0.1, 0.1, 0.5, 0.5), 0.49), (CAR, (0.5, 0.5, 0.9, 0.9), 0.5)])
    assert [e.name for e in found] == ["car"]


def test_tiny_boxes_are_dropped_by_area_and_by_pixels_when_the_size_is_known():
    small = (CAR, (0.5, 0.5, 0.52, 0.52), 0.9)  # 0.04% of the image
    assert object_evidence([small]) == []
    thin = (PERSON, (0.5, 0.1, 0.512, 0.6), 0.9)  # 0.6% of the image, 9.2 px wide at 768
    assert len(object_evidence([thin])) == 1
    assert object_evidence([thin], size=(768, 576)) == []
    assert len(object_evidence([thin], size=(1536, 1152))) == 1  # 18 px wide there


def test_duplicates_of_one_class_are_suppressed_keeping_the_best():
    a, b = (0.1, 0.1, 0.5, 0.5), (0.12, 0.1, 0.52, 0.5)  # IoU 0.905
    c = (0.3, 0.1, 0.7, 0.5)  # IoU with a: 0.333
    assert iou(a, b) == pytest.approx(0.16 * 0.95 / (0.32 - 0.16 * 0.95))
    (person,) = object_evidence([(PERSON, b, 0.8), (PERSON, a, 0.9), (PERSON, c, 0.7)])
    assert person.count == 2 and person.box == a and person.score == 0.9
    assert person.others == (c,)
    # a dog and a person on one box are two objects, not duplicates
    assert len(object_evidence([(PERSON, a, 0.9), (DOG, a, 0.9)])) == 2


def test_suppress_and_iou_edge_cases():
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0
    assert iou((0, 0, 0.5, 0.5), (0.5, 0.5, 1, 1)) == 0.0
    assert iou((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.5)) == 1.0
    kept = suppress([(0.5, (0, 0, 1, 1)), (0.9, (0, 0, 0.9, 1)), (0.7, (0, 0, 0.2, 0.2))], 0.6)
    assert kept == [(0.9, (0, 0, 0.9, 1)), (0.7, (0, 0, 0.2, 0.2))]


def test_a_few_people_are_counted_and_written_as_more_people():
    people = [(PERSON, (0.05 + 0.3 * k, 0.2, 0.2 + 0.3 * k, 0.9), 0.99 - 0.1 * k) for k in range(3)]
    (person,) = object_evidence(people)
    assert person.count == 3 and len(person.boxes) == 3 and not person.crowd
    assert person.justification == "person 99%: detected in the box on the left, and 2 more people."
    (two,) = object_evidence(people[1:])
    assert two.justification == "person 89%: detected in the box in the centre, and 1 more person."
    (one,) = object_evidence(people[2:])
    assert one.justification == "person 79%: detected in the box on the right."


def test_a_crowd_is_bounded_for_evidence_but_counted_in_full():
    crowd = [
        (PERSON, (0.06 * k, 0.1 + 0.05 * (k % 2), 0.06 * k + 0.05, 0.6), 0.95 - 0.01 * k)
        for k in range(15)
    ]
    (person,) = object_evidence(crowd)
    assert person.count == 15 and person.crowd
    assert len(person.boxes) == RULES.max_shown == 12
    assert person.scores == tuple(sorted(person.scores, reverse=True))
    assert person.score == 0.95
    assert person.justification == (
        "person 95%: many people (15 detected, the 12 most confident shown); "
        "the most confident in the box on the left."
    )
    (ten,) = object_evidence(crowd[:10])
    assert ten.count == 10 and not ten.crowd and "and 9 more people" in ten.justification
    (eleven,) = object_evidence(crowd[:11])
    assert eleven.crowd and "(11 detected)" in eleven.justification  # all shown: no "shown"


def test_horizontal_position_is_the_third_holding_the_centre():
    assert horizontal_position((0.0, 0.0, 0.6, 1.0)) == "left"  # centre 0.3
    assert horizontal_position((0.0, 0.0, 0.7, 1.0)) == "centre"  # centre 0.35
    assert horizontal_position((0.3, 0.0, 1.0, 1.0)) == "centre"  # centre 0.65
    assert horizontal_position((0.4, 0.0, 1.0, 1.0)) == "right"  # centre 0.7


def test_dog_jpg_the_dog_in_front_of_the_bicycle_in_front_of_the_truck():
    found = object_evidence(DOG_JPG, size=(768, 576))
    assert [e.name for e in found] == ["dog", "bicycle", "truck"]
    dog, bicycle, truck = found
    assert dog.justification == "dog 98%: detected in the box on the left, in front of the bicycle."
    assert (dog.in_front_of, dog.behind) == (("bicycle",), ())
    assert bicycle.position == "centre"
    assert (bicycle.in_front_of, bicycle.behind) == (("truck",), ("dog",))
    assert truck.justification == "truck 80%: detected in the box on the right, behind the bicycle."


def test_dog_jpg_as_measured_one_name_per_object_and_the_rival_reading_named():
    found = object_evidence(MEASURED, size=(768, 576))
    assert [e.name for e in found] == ["bicycle", "dog", "car"]  # the cat is under 0.5
    bicycle, dog, car = found
    assert car.also == (("truck", 0.57),) and car.count == 1
    assert car.justification == (
        "car 75%: detected in the box on the right, behind the bicycle (also scored as truck 57%)."
    )
    assert dog.justification == "dog 88%: detected in the box on the left, in front of the bicycle."
    assert (bicycle.position, bicycle.in_front_of, bicycle.behind) == ("centre", ("car",), ("dog",))
    assert car.as_dict()["also"] == [["truck", 0.57]]


def test_rival_readings_only_between_confusable_classes_on_one_object():
    box = (0.2, 0.2, 0.6, 0.8)
    rider = object_evidence([(HORSE, box, 0.9), (PERSON, box, 0.8)])  # not rivals: both
    assert [e.name for e in rider] == ["horse", "person"] and rider[0].also == ()
    near = (0.3, 0.2, 0.7, 0.8)  # IoU 0.6 with box: two animals side by side
    assert len(object_evidence([(DOG, box, 0.9), (17, near, 0.8)])) == 2
    # only the best box carries the rival's name; a rival on a second box just goes
    two = object_evidence(
        [(CAR, (0.0, 0.5, 0.3, 0.8), 0.9), (CAR, box, 0.8), (TRUCK, box, 0.7), (TRUCK, box, 0.6)]
    )
    assert [(e.name, e.count, e.also) for e in two] == [("car", 2, ())]
    one = object_evidence([(CAR, box, 0.8), (TRUCK, box, 0.7), (67, (0, 0.5, 1, 1), 0.9)])
    assert by_name(one)["car"].also == (("truck", 0.7),)
    assert set(objects.RIVALS[0]) == {"car", "truck", "bus", "train"}
    for group in objects.RIVALS:
        assert group <= set(COCO_LABELS.values())


def test_depth_is_claimed_only_with_overlap_and_consistent_evidence():
    back = (0.3, 0.2, 0.7, 0.6)
    assert depth((0.4, 0.4, 0.8, 0.9), back)  # lower bottom, similar size, overlapping
    assert not depth(back, (0.4, 0.4, 0.8, 0.9))
    assert not depth((0.75, 0.4, 0.95, 0.9), back)  # lower but apart: no overlap
    assert not depth((0.4, 0.3, 0.5, 0.5), back)  # inside it: held, worn or on it
    assert not depth((0.65, 0.55, 0.7, 0.65), back)  # lower, overlapping, but 1/32 the size
    assert depth((0.45, 0.0, 1.0, 0.61), back)  # bottoms level, 2.1 times larger
    assert not depth(back, (0.45, 0.0, 1.0, 0.61))
    assert not depth((0.5, 0.1, 0.9, 0.61), back)  # bottoms level, 1.3 times: no claim
    assert not depth((0.1, 0.0, 0.9, 0.62), back)  # holds it whole: no claim either way
    assert not depth((0, 0, 0, 0), back)


def test_a_phone_held_inside_a_persons_box_makes_no_depth_claim():
    found = by_name(
        object_evidence([(PERSON, (0.3, 0.1, 0.7, 0.95), 0.9), (CELL, (0.45, 0.4, 0.52, 0.5), 0.8)])
    )
    assert found["cell phone"].in_front_of == found["cell phone"].behind == ()
    assert found["person"].justification == "person 90%: detected in the box in the centre."


def test_malformed_detections_are_dropped_and_boxes_clipped():
    junk = [
        (DOG, (0.1, 0.1, 0.5, 0.5), math.nan),
        (DOG, (0.1, math.nan, 0.5, 0.5), 0.9),
        (DOG, (0.5, 0.5, 0.1, 0.1), 0.9),  # inverted
        (0, (0.1, 0.1, 0.5, 0.5), 0.9),  # background
        (12, (0.1, 0.1, 0.5, 0.5), 0.9),  # an id COCO never annotated
        ("dog", (0.1, 0.1, 0.5, 0.5), 0.9),
        (DOG, (0.1, 0.1, 0.5), 0.9),
        (DOG, None, 0.9),
        (CAR, (-0.2, 0.5, 0.4, 1.3), 0.9),
    ]
    (car,) = object_evidence(junk)
    assert car.box == (0.0, 0.5, 0.4, 1.0)


def test_results_are_ordered_by_their_best_score_and_plain_data():
    found = object_evidence([(CAR, (0.6, 0.5, 0.9, 0.8), 0.7), (DOG, (0.1, 0.5, 0.4, 0.9), 0.9)])
    assert [e.name for e in found] == ["dog", "car"]
    as_dict = found[0].as_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["boxes"] == [[0.1, 0.5, 0.4, 0.9]] and as_dict["count"] == 1
    assert as_dict["scores"] == [0.9]
    assert as_dict["concept_id"] is None  # no bank given


def test_detections_may_be_objects_with_class_id_box_and_score():
    cls = getattr(evidence_types, "ObjectDetection", None)
    if cls is not None:
        raw = cls(label="dog", class_id=DOG, box=(0.1, 0.2, 0.5, 0.9), score=0.9)
    else:
        raw = SimpleNamespace(class_id=DOG, box=(0.1, 0.2, 0.5, 0.9), score=0.9)
    (dog,) = object_evidence([raw])
    assert (dog.class_id, dog.name, dog.box, dog.score) == (DOG, "dog", (0.1, 0.2, 0.5, 0.9), 0.9)


def test_concept_ids_come_from_the_bank():
    path = Settings().concept_bank_path
    if not path.exists():
        pytest.fail(f"the concept bank {path} is missing: run infra/bin/setup", pytrace=False)
    bank = ConceptBank.load(path)
    found = by_name(object_evidence(DOG_JPG, bank))
    assert bank.names[found["dog"].concept_id] == "dog"
    assert bank.names[found["bicycle"].concept_id] == "bicycle"
    assert bank.names[found["truck"].concept_id] == "truck"
    (book,) = object_evidence([(84, (0.1, 0.1, 0.3, 0.4), 0.9)], bank)
    assert book.concept_id is None and book.name == "book"


def test_plurals_and_count_phrases_of_the_class_names():
    expect = {
        "person": "people",
        "knife": "knives",
        "mouse": "mice",
        "bus": "buses",
        "wine glass": "wine glasses",
        "couch": "couches",
        "bench": "benches",
        "sandwich": "sandwiches",
        "toothbrush": "toothbrushes",
        "hot dog": "hot dogs",
        "sheep": "sheep",
        "skis": "skis",
        "scissors": "scissors",
        "traffic light": "traffic lights",
        "teddy bear": "teddy bears",
    }
    assert {n: plural(n) for n in expect} == expect
    invariant = {"sheep", "skis", "scissors", "broccoli"}
    for name in COCO_LABELS.values():
        assert (plural(name) == name) == (name in invariant), name
    assert count_phrase("dog", 1) == "dog"
    assert count_phrase("person", 3) == "3 people"
    assert count_phrase("person", 10) == "10 people"
    assert count_phrase("person", 11) == "many people"
    assert count_phrase("knife", 2, crowd=1) == "many knives"
    assert objects.ObjectRules().crowd == 10
