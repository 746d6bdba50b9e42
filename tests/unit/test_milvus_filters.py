"""A search's Milvus filter expression: privacy first, then the user's filters, injection
refused."""

from __future__ import annotations

import pytest
from glassbox.clients.milvus.filters import Filters


def test_filter_expressions_keep_privacy_first():
    assert Filters().expr(7) == "(owner_id == 7 or is_public == true)"
    assert Filters().expr(None) == "is_public == true"
    assert Filters(owner="mine").expr(7) == "owner_id == 7"
    assert Filters(owner="mine").expr(None) == "owner_id == -1"  # nobody's
    full = Filters(kind="image", created_from=10, created_to=20, tags=(3, 4), flagged=True).expr(7)
    assert full == (
        '(owner_id == 7 or is_public == true) and kind == "image" and created >= 10 and '
        'created < 20 and (tag_ids like "% 3 %" or tag_ids like "% 4 %") and flagged == true'
    )
    with pytest.raises(ValueError):
        Filters(kind='image" or true or "').expr(7)
    with pytest.raises(ValueError):
        Filters(owner="everyone").expr(7)
