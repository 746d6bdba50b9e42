"""The index row's keys: an item's own row keeps its primary key, a shot row gets a negative
key that encodes (item, shot), and the written fields say which is which."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.clients.milvus.schema import (
    SHOT_SLOTS,
    IndexRow,
    filter_values,
    item_of,
    row_fields,
    shot_row_id,
)


@pytest.mark.parametrize(("item", "shot"), [(1, 0), (7, 3), (123456789, SHOT_SLOTS - 1)])
def test_a_shot_key_is_negative_and_decodes_to_its_item_and_shot(item, shot):
    key = shot_row_id(item, shot)
    assert key < 0 and item_of(key) == (item, shot)


def test_shot_keys_never_collide():
    keys = {shot_row_id(i, s) for i in range(1, 50) for s in range(0, 50)}
    assert len(keys) == 49 * 50


def test_an_item_key_is_itself():
    assert item_of(42) == (42, -1)


def test_too_many_shots_are_refused():
    with pytest.raises(ValueError):
        shot_row_id(1, SHOT_SLOTS)


def test_written_fields_carry_the_item_and_the_time_range():
    v = np.ones(4, np.float32) / 2
    item = row_fields(IndexRow(5, v, 1, True, "image", 10), 4, 2)
    assert (item["item_id"], item["shot"]) == (5, -1)
    shot = IndexRow(
        shot_row_id(5, 2), v, 1, True, "video", 10, item_id=5, shot=2, start_s=4.0, end_s=6.5
    )
    fields = row_fields(shot, 4, 2)
    assert (fields["item_id"], fields["shot"], fields["start_s"], fields["end_s"]) == (
        5,
        2,
        4.0,
        6.5,
    )
    assert filter_values(shot)["kind"] == "video"
