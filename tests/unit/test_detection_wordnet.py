"""COCO classes as WordNet 3.0 synsets (Debian wordnet-base) and as concepts of the real bank."""

from __future__ import annotations

import re

import pytest
from glassbox import concepts
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.detection import wordnet
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.detection.wordnet import COCO_SYNSETS, concept_for, nearest_bank_ancestor

INDEX_NOUN = concepts.WORDNET_DATA_NOUN.with_name("index.noun")


@pytest.fixture(scope="module")
def nouns():
    if not concepts.WORDNET_DATA_NOUN.exists():
        pytest.fail(f"{concepts.WORDNET_DATA_NOUN} is missing: run infra/bin/setup (wordnet-base)")
    return concepts.read_wordnet_nouns()


@pytest.fixture(scope="module")
def bank():
    path = Settings().concept_bank_path
    if not path.exists():
        pytest.fail(f"the concept bank {path} is missing: run infra/bin/setup", pytrace=False)
    return ConceptBank.load(path)


@pytest.fixture(scope="module")
def senses():
    """lemma -> its noun synset offsets in sense order (WordNet's index.noun)."""
    out = {}
    for line in INDEX_NOUN.read_text(encoding="utf-8").splitlines():
        if line.startswith(" "):
            continue
        f = line.split()
        out[f[0]] = f[-int(f[2]) :]
    return out


def named(bank, cid):
    return None if cid is None else bank.names[cid]


def test_the_table_covers_exactly_the_80_coco_classes_with_their_names():
    assert len(COCO_SYNSETS) == 80
    assert set(COCO_SYNSETS) == set(COCO_LABELS)
    for coco_id, entry in COCO_SYNSETS.items():
        assert entry.name == COCO_LABELS[coco_id]
        assert re.fullmatch(r"n\d{8}", entry.wnid), entry
        assert entry.broader is None or re.fullmatch(r"n\d{8}", entry.broader), entry
    assert len({e.wnid for e in COCO_SYNSETS.values()}) == 80  # no two classes share a sense


def test_every_wnid_is_a_wordnet_noun_and_its_sense_name_is_right(nouns, senses):
    for entry in COCO_SYNSETS.values():
        offset = entry.wnid[1:]
        assert offset in nouns, f"{entry.name}: {entry.wnid} is not in data.noun"
        lemma, pos, number = entry.synset.rsplit(".", 2)
        assert pos == "n"
        assert lemma in (w.lower() for w in nouns[offset].words), entry
        assert senses[lemma][int(number) - 1] == offset, f"{entry.synset} is not {entry.wnid}"


def test_well_known_senses(nouns):
    expect = {
        1: ("person.n.01", "n00007846"),
        18: ("dog.n.01", "n02084071"),
        3: ("car.n.01", "n02958343"),
        2: ("bicycle.n.01", "n02834778"),
        8: ("truck.n.01", "n04490091"),
    }
    for coco_id, (synset, wnid) in expect.items():
        assert (COCO_SYNSETS[coco_id].synset, COCO_SYNSETS[coco_id].wnid) == (synset, wnid)
    # the senses whose first reading would be wrong: the toy kite, the drinking cup, the pet
    assert "plaything" in nouns[COCO_SYNSETS[38].wnid[1:]].gloss
    assert "drinking" in nouns[COCO_SYNSETS[47].wnid[1:]].gloss
    assert nouns[COCO_SYNSETS[17].wnid[1:]].name == "domestic cat"


def test_dog_from_the_detector_meets_eskimo_dog_from_the_classifier(bank):
    dog = concept_for(18, bank)
    assert bank.wnids[dog] == "n02084071" and bank.names[dog] == "dog"
    assert not bank.is_leaf(dog)
    eskimo = bank.find("Eskimo dog")[0]
    assert dog in bank.ancestors(eskimo)


def test_leaves_and_broader_concepts_are_used_exactly(bank):
    assert named(bank, concept_for(1, bank)) == "person"
    assert named(bank, concept_for(3, bank)) == "car"
    assert named(bank, concept_for(2, bank)) == "bicycle"
    assert named(bank, concept_for(17, bank)) == "domestic cat"
    laptop = concept_for(73, bank)
    assert bank.is_leaf(laptop) and bank.wnids[laptop] == "n03642806"
    assert named(bank, concept_for(24, bank)) == "zebra"


def test_the_homonyms_of_imagenet_are_avoided(bank):
    # ImageNet's leaf "kite" is the hawk and its "cup" a punch: the detector's are neither
    hawk, punch = bank.find("kite")[0], bank.find("cup")[0]
    assert bank.wnids[hawk] == "n01608432" and bank.wnids[punch] == "n07930864"
    assert concept_for(38, bank) != hawk and concept_for(47, bank) != punch
    assert named(bank, concept_for(38, bank)) == "plaything"
    assert named(bank, concept_for(47, bank)) == "crockery"


def test_a_class_outside_the_bank_gets_its_nearest_bank_ancestor(bank):
    assert named(bank, concept_for(19, bank)) == "equine"  # horse
    assert named(bank, concept_for(20, bank)) == "bovid"  # sheep
    assert named(bank, concept_for(21, bank)) == "bovid"  # cow (cattle)
    assert named(bank, concept_for(5, bank)) == "heavier-than-air craft"  # airplane
    assert named(bank, concept_for(4, bank)) == "motor vehicle"  # motorcycle


def test_classes_whose_every_kept_hypernym_is_pruned_get_none(bank, nouns):
    for coco_id in (11, 70, 81, 84):  # fire hydrant, toilet, sink, book
        assert concept_for(coco_id, bank) is None
        assert concept_for(coco_id, bank, nouns) is None


def test_unknown_ids_get_none(bank):
    for coco_id in (0, 12, 26, 83, 91, -1):
        assert wordnet.synset_of(coco_id) is None
        assert concept_for(coco_id, bank) is None


def test_the_table_agrees_with_a_live_walk_of_wordnet_for_every_class(bank, nouns):
    table = wordnet.coco_concepts(bank)
    live = wordnet.coco_concepts(bank, nouns)
    assert table == live
    for coco_id, entry in COCO_SYNSETS.items():
        in_bank = entry.wnid in bank.wnids
        assert (entry.broader is None) == (in_bank or live[coco_id] is None), entry.name
    assert sum(v is not None for v in table.values()) == 76


def test_tag_filters_person_and_vehicle_find_detector_tags(bank):
    """The index stores a tag with every broader concept above it (web/media/indexing.py)."""
    vehicle = bank.find("vehicle")
    assert vehicle
    for coco_id in (3, 8, 2, 4, 5, 9):  # car, truck, bicycle, motorcycle, airplane, boat
        cid = concept_for(coco_id, bank)
        assert set(vehicle) & {cid, *bank.ancestors(cid)}, COCO_LABELS[coco_id]
    # WordNet files bus and train under public transport -> conveyance, not vehicle; so does
    # the classifier's "school bus", so both meet at "conveyance"
    conveyance = bank.find("conveyance")[0]
    school_bus = bank.find("school bus")[0]
    for coco_id in (6, 7):
        cid = concept_for(coco_id, bank)
        assert not set(vehicle) & {cid, *bank.ancestors(cid)}
        assert conveyance in bank.ancestors(cid)
    assert conveyance in bank.ancestors(school_bus) and concept_for(6, bank) in bank.ancestors(
        school_bus
    )
    person = concept_for(1, bank)
    assert person in bank.find("person")
    for coco_id in (18, 17, 16, 3):  # no animal or car is a person
        assert person not in bank.ancestors(concept_for(coco_id, bank))


def test_nearest_ancestor_prefers_fewer_steps_then_the_most_specific(bank, nouns):
    # cup.n.01 is both crockery (3 leaves) and container (100 leaves), one step up each
    cup = nearest_bank_ancestor("n03147509", bank, nouns)
    assert bank.names[cup] == "crockery"
    assert nearest_bank_ancestor("n02374451", bank, nouns) == bank.find("equine")[0]
    with pytest.raises(KeyError):
        nearest_bank_ancestor("n99999999", bank, nouns)
