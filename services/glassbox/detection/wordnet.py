"""COCO's 80 detector classes as WordNet 3.0 synsets and as concepts of the concept bank.

The object detector names its boxes with COCO's 80 classes (ids in the 90-id numbering,
``glassbox.detection.coco_labels.COCO_LABELS``); the image classifier names concepts of the
concept bank (ImageNet leaves and their kept WordNet hypernyms, ``glassbox.concepts``). Both
speak WordNet, so each COCO class is given its synset here, and :func:`concept_for` finds the
bank concept a detection stands for:

1. the bank's concept with the class's own wnid ("dog" -> dog.n.01, a broader concept of the
   bank, so the detector's "dog" and the classifier's "Eskimo dog" meet at dog.n.01; "laptop"
   -> the ImageNet leaf laptop.n.01);
2. else the nearest bank concept above it through WordNet's hypernyms (fewest steps; of
   equals, the most specific, then the lowest row): "horse" -> equine, "sheep" -> bovid;
3. else ``None`` ("fire hydrant", "toilet", "sink", "book": every hypernym the bank keeps is
   above "artifact", which the bank prunes as too general).

The tag filters go through the bank's ancestors, so "person" and "vehicle" find a detector's
"person" and "car". A concept id is for meeting the classifier's concepts and the filters; the
evidence is still named with COCO's word ("snowboard", not its bank ancestor "sheet").

The table's ``broader`` column is step 2 worked out once from WordNet (the walk,
:func:`nearest_bank_ancestor`, needs ``data.noun``, which the web and worker images lack); the
unit tests redo the walk against the real bank and WordNet and must agree with it. Chosen
senses: "cat" is domestic_cat.n.01 (COCO's cats are house cats; cat.n.01 is above it in the
bank), "cow" is cattle.n.01 (COCO's cows are any cattle; cow.n.02 is only the female), "kite"
is the toy kite.n.03 (the ImageNet leaf "kite" is the hawk), "cup" is cup.n.01 (the ImageNet
leaf "cup" is a punch), "stop sign" is street_sign.n.01 (WordNet has no stop sign), "book" is
book.n.02 (the bound volume), "tv" is television_receiver.n.01. Numpy-free: stdlib and the
bank.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from glassbox.concepts import ConceptBank, Synset


@dataclass(frozen=True)
class CocoSynset:
    """One COCO class as WordNet sees it."""

    name: str  # COCO's class name: "dog"
    synset: str  # WordNet's name of the sense: "dog.n.01"
    wnid: str  # "n" + the 8-digit offset in WordNet 3.0's data.noun: "n02084071"
    broader: str | None = None  # the nearest bank concept above it, when it is not in the bank


# fmt: off
_ROWS: tuple[tuple[int, str, str, str, str | None], ...] = (
    (1, "person", "person.n.01", "n00007846", None),
    (2, "bicycle", "bicycle.n.01", "n02834778", None),
    (3, "car", "car.n.01", "n02958343", None),
    (4, "motorcycle", "motorcycle.n.01", "n03790512", "n03791235"),  # motor vehicle
    (5, "airplane", "airplane.n.01", "n02691156", "n03510583"),  # heavier-than-air craft
    (6, "bus", "bus.n.01", "n02924116", None),
    (7, "train", "train.n.01", "n04468005", "n04019101"),  # public transport
    (8, "truck", "truck.n.01", "n04490091", None),
    (9, "boat", "boat.n.01", "n02858304", None),
    (10, "traffic light", "traffic_light.n.01", "n06874185", None),
    (11, "fire hydrant", "fireplug.n.01", "n03346898", None),
    (13, "stop sign", "street_sign.n.01", "n06794110", None),
    (14, "parking meter", "parking_meter.n.01", "n03891332", None),
    (15, "bench", "bench.n.01", "n02828884", "n04161981"),  # seat
    (16, "bird", "bird.n.01", "n01503061", None),
    (17, "cat", "domestic_cat.n.01", "n02121808", None),
    (18, "dog", "dog.n.01", "n02084071", None),
    (19, "horse", "horse.n.01", "n02374451", "n02374149"),  # equine
    (20, "sheep", "sheep.n.01", "n02411705", "n02401031"),  # bovid
    (21, "cow", "cattle.n.01", "n02402425", "n02401031"),  # bovid
    (22, "elephant", "elephant.n.01", "n02503517", None),
    (23, "bear", "bear.n.01", "n02131653", None),
    (24, "zebra", "zebra.n.01", "n02391049", None),
    (25, "giraffe", "giraffe.n.01", "n02439033", "n02399000"),  # ruminant
    (27, "backpack", "backpack.n.01", "n02769748", None),
    (28, "umbrella", "umbrella.n.01", "n04507155", None),
    (31, "handbag", "bag.n.04", "n02774152", "n03094503"),  # container
    (32, "tie", "necktie.n.01", "n03815615", None),
    (33, "suitcase", "bag.n.06", "n02773838", "n03094503"),  # container
    (34, "frisbee", "frisbee.n.01", "n03397947", "n03964744"),  # plaything
    (35, "skis", "ski.n.01", "n04228054", None),
    (36, "snowboard", "snowboard.n.01", "n04251791", "n04188643"),  # sheet
    (37, "sports ball", "ball.n.01", "n02778669", None),
    (38, "kite", "kite.n.03", "n03621473", "n03964744"),  # plaything
    (39, "baseball bat", "baseball_bat.n.01", "n02799175", "n04285146"),  # sports equipment
    (40, "baseball glove", "baseball_glove.n.01", "n02800213", "n04285146"),  # sports equipment
    (41, "skateboard", "skateboard.n.01", "n04225987", "n04576211"),  # wheeled vehicle
    (42, "surfboard", "surfboard.n.01", "n04363559", "n04188643"),  # sheet
    (43, "tennis racket", "tennis_racket.n.01", "n04409806", "n04039381"),  # racket
    (44, "bottle", "bottle.n.01", "n02876657", None),
    (46, "wine glass", "wineglass.n.01", "n04592099", "n03438257"),  # glass
    (47, "cup", "cup.n.01", "n03147509", "n03133538"),  # crockery
    (48, "fork", "fork.n.01", "n03383948", "n04381994"),  # tableware
    (49, "knife", "knife.n.01", "n03623556", None),
    (50, "spoon", "spoon.n.01", "n04284002", "n03094503"),  # container
    (51, "bowl", "bowl.n.03", "n02880940", None),
    (52, "banana", "banana.n.02", "n07753592", None),
    (53, "apple", "apple.n.01", "n07739125", "n07705931"),  # edible fruit
    (54, "sandwich", "sandwich.n.01", "n07695965", None),
    (55, "orange", "orange.n.01", "n07747607", None),
    (56, "broccoli", "broccoli.n.02", "n07714990", None),
    (57, "carrot", "carrot.n.03", "n07730207", "n07707451"),  # vegetable
    (58, "hot dog", "hotdog.n.02", "n07697537", None),
    (59, "pizza", "pizza.n.01", "n07873807", None),
    (60, "donut", "doughnut.n.02", "n07639069", "n07622061"),  # baked goods
    (61, "cake", "cake.n.03", "n07628870", "n07622061"),  # baked goods
    (62, "chair", "chair.n.01", "n03001627", None),
    (63, "couch", "sofa.n.01", "n04256520", "n04161981"),  # seat
    (64, "potted plant", "pot_plant.n.01", "n11536230", "n00017222"),  # plant
    (65, "bed", "bed.n.01", "n02818832", "n03405725"),  # furniture
    (67, "dining table", "dining_table.n.01", "n03201208", None),
    (70, "toilet", "toilet.n.02", "n04446521", None),
    (72, "tv", "television_receiver.n.01", "n04405907", "n03278248"),  # electronic equipment
    (73, "laptop", "laptop.n.01", "n03642806", None),
    (74, "mouse", "mouse.n.04", "n03793489", None),
    (75, "remote", "remote_control.n.01", "n04074963", None),
    (76, "keyboard", "computer_keyboard.n.01", "n03085013", None),
    (77, "cell phone", "cellular_telephone.n.01", "n02992529", None),
    (78, "microwave", "microwave.n.02", "n03761084", None),
    (79, "oven", "oven.n.01", "n03862676", None),
    (80, "toaster", "toaster.n.02", "n04442312", None),
    (81, "sink", "sink.n.01", "n04223580", None),
    (82, "refrigerator", "refrigerator.n.01", "n04070727", None),
    (84, "book", "book.n.02", "n02870092", None),
    (85, "clock", "clock.n.01", "n03046257", None),
    (86, "vase", "vase.n.01", "n04522168", None),
    (87, "scissors", "scissors.n.01", "n04148054", "n03265032"),  # edge tool
    (88, "teddy bear", "teddy.n.01", "n04399382", None),
    (89, "hair drier", "hand_blower.n.01", "n03483316", None),
    (90, "toothbrush", "toothbrush.n.01", "n04453156", "n04447443"),  # toiletry
)
# fmt: on

COCO_SYNSETS: dict[int, CocoSynset] = {row[0]: CocoSynset(*row[1:]) for row in _ROWS}


def synset_of(coco_id: int) -> CocoSynset | None:
    """The WordNet sense of COCO class ``coco_id``, or ``None`` for an id with no class."""
    return COCO_SYNSETS.get(int(coco_id))


def concept_for(
    coco_id: int, bank: ConceptBank, nouns: Mapping[str, Synset] | None = None
) -> int | None:
    """The bank's concept id for COCO class ``coco_id``: the concept with the class's wnid,
    else the nearest bank concept above it, else ``None`` (an unknown id included).

    With ``nouns`` (``glassbox.concepts.read_wordnet_nouns()``) the hypernyms are walked live;
    without, the table's ``broader`` wnid is used (the same answer for the rule the bank is
    built by; the tests check that)."""
    entry = synset_of(coco_id)
    if entry is None:
        return None
    rows = _rows_by_wnid(tuple(bank.wnids))
    if entry.wnid in rows:
        return rows[entry.wnid]
    if nouns is not None:
        return nearest_bank_ancestor(entry.wnid, bank, nouns)
    return rows.get(entry.broader) if entry.broader else None


def coco_concepts(
    bank: ConceptBank, nouns: Mapping[str, Synset] | None = None
) -> dict[int, int | None]:
    """:func:`concept_for` of every COCO class, by COCO id."""
    return {coco_id: concept_for(coco_id, bank, nouns) for coco_id in COCO_SYNSETS}


def nearest_bank_ancestor(wnid: str, bank: ConceptBank, nouns: Mapping[str, Synset]) -> int | None:
    """The bank concept nearest above synset ``wnid`` through WordNet's hypernyms (``@`` and
    instance ``@i``), by the number of steps; of equally near ones, the one with the fewest
    leaves (the most specific), then the lowest row. ``None`` if none is in the bank."""
    rows = _rows_by_wnid(tuple(bank.wnids))
    start = wnid[1:]
    if start not in nouns:
        raise KeyError(f"{wnid} is not a noun synset of WordNet 3.0")
    depth = {start: 0}
    todo = deque([start])
    found: list[tuple[int, int, int]] = []  # (steps, leaves, row)
    while todo:
        offset = todo.popleft()
        if found and depth[offset] > found[0][0]:
            break  # everything nearer has been seen
        row = rows.get(f"n{offset}")
        if offset != start and row is not None:
            found.append((depth[offset], len(bank.leaves_of(row)), row))
            continue  # what lies above a bank concept is farther
        for parent in nouns[offset].hypernyms:
            if parent not in depth and parent in nouns:
                depth[parent] = depth[offset] + 1
                todo.append(parent)
    return min(found)[2] if found else None


@lru_cache(maxsize=4)
def _rows_by_wnid(wnids: tuple[str, ...]) -> dict[str, int]:
    rows: dict[str, int] = {}
    for i, w in enumerate(wnids):
        rows.setdefault(w, i)
    return rows
