"""``glassbox.detection.coco_labels``: the 80 COCO classes over the 90-id numbering, in the
order of darknet's ``coco.names`` (which spells six of them the VOC way)."""

from __future__ import annotations

from pathlib import Path

import pytest
from glassbox.detection.coco_labels import COCO_LABELS

DARKNET_COCO_NAMES = Path("/usr/share/darknet/data/coco.names")  # Debian package darknet
UNANNOTATED_IDS = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
DARKNET_SPELLING = {
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "sofa": "couch",
    "pottedplant": "potted plant",
    "diningtable": "dining table",
    "tvmonitor": "tv",
}


def test_eighty_classes_over_ids_one_to_ninety():
    assert len(COCO_LABELS) == 80
    assert set(COCO_LABELS) == set(range(1, 91)) - UNANNOTATED_IDS
    assert list(COCO_LABELS) == sorted(COCO_LABELS)
    assert len(set(COCO_LABELS.values())) == 80
    assert (COCO_LABELS[1], COCO_LABELS[18], COCO_LABELS[38], COCO_LABELS[90]) == (
        "person",
        "dog",
        "kite",
        "toothbrush",
    )


def test_the_names_follow_darknets_coco_names_in_order():
    if not DARKNET_COCO_NAMES.is_file():
        pytest.fail(f"{DARKNET_COCO_NAMES} missing: run `infra/bin/setup --test` (Debian darknet)")
    names = [line.strip() for line in DARKNET_COCO_NAMES.read_text().splitlines() if line.strip()]
    assert [DARKNET_SPELLING.get(n, n) for n in names] == list(COCO_LABELS.values())
