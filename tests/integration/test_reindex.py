"""``manage.py reindex`` rebuilds Milvus from the database, and twice gives the same index."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command
from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.schema import IndexRow
from glassbox.config import get_settings
from media.models import MediaItem, SemanticProfile

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COLLECTION = "test_reindex"


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def index(milvus_uri):
    idx = MediaIndex(milvus_uri, COLLECTION, timeout=10.0)
    yield idx
    idx.drop()


@pytest.fixture
def analysed(django_user_model):
    owner = django_user_model.objects.create_user("owner", password="owner-password-1")
    other = django_user_model.objects.create_user("other", password="other-password-1")
    items = []
    for k, (user, visibility) in enumerate(
        [(owner, "private"), (owner, "public"), (other, "private")]
    ):
        item = MediaItem.objects.create(
            owner=user,
            title=f"item {k}",
            visibility=visibility,
            file=f"originals/x{k}.jpg",
            mime="image/jpeg",
            width=10,
            height=10,
            size_bytes=1,
            status="ready",
            needs_reindex=True,
        )
        SemanticProfile.objects.create(item=item, vector=unit(k).astype("<f4").tobytes())
        items.append(item)
    # an item never analysed has no vector to index
    MediaItem.objects.create(
        owner=owner,
        title="queued",
        file="originals/q.jpg",
        mime="image/jpeg",
        width=1,
        height=1,
        size_bytes=1,
    )
    return owner, other, items


def reindex() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("reindex", collection=COLLECTION, batch_size=2, stdout=out, stderr=err)
    assert "reindex [" in err.getvalue() and "3/3" in err.getvalue()  # the progress bar
    return out.getvalue()


def test_reindex_rebuilds_from_the_database_drops_orphans_and_is_idempotent(index, analysed):
    owner, other, items = analysed
    index.ensure()
    index.upsert(
        [
            IndexRow(
                id=999_999,
                vector=unit(9),
                owner_id=owner.pk,
                is_public=True,
                kind="image",
                created=0,
            )
        ]
    )  # a vector whose item is gone
    assert "reindexed 3 items" in reindex()
    assert index.count() == 3

    def rankings():
        return [[h.id for h in index.search(unit(k), 10, viewer_id=owner.pk)] for k in range(3)]

    first = rankings()
    assert first[0][0] == items[0].pk  # each vector finds its own item first
    reindex()
    assert index.count() == 3 and rankings() == first
    assert not MediaItem.objects.filter(needs_reindex=True, profile__isnull=False).exists()


def test_reindexed_filter_fields_come_from_the_database(index, analysed):
    owner, other, items = analysed
    reindex()
    seen_by_other = {h.id for h in index.search(unit(0), 10, viewer_id=other.pk)}
    assert seen_by_other == {items[1].pk, items[2].pk}  # the public one and its own
    assert get_settings().milvus_collection != COLLECTION  # the app's index was not touched


def test_if_outdated_rebuilds_a_collection_made_by_an_older_schema_once(index, analysed):
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=index.uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=384)  # the first schema's one field
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    client.create_collection(COLLECTION, schema=schema, index_params=params)
    client.close()

    out, err = io.StringIO(), io.StringIO()
    call_command("reindex", "--if-outdated", collection=COLLECTION, stdout=out, stderr=err)
    assert "older Glassbox" in err.getvalue() and "reindexed 3 items" in out.getvalue()
    index.ensure()  # the rebuilt collection has today's fields
    assert index.count() == 3
    out, err = io.StringIO(), io.StringIO()
    call_command("reindex", "--if-outdated", collection=COLLECTION, stdout=out, stderr=err)
    assert out.getvalue() == "" and "reindex [" not in err.getvalue()  # current: untouched
