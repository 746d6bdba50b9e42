"""Fixtures for the web tests: users, clients, images, analysed items and fake services.

Enqueueing is recorded instead of sent (real-worker tests live in tests/integration), and the
Triton/Milvus clients are replaced by small in-memory fakes where a test needs them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.index import Hit
from glassbox_web import runtime
from media import actions, tasks
from media.models import MediaItem
from PIL import Image
from rest_framework.test import APIClient

DIM = 384
N_CONCEPTS = 12


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[tuple[str, int]]:
    """Every task sent, as (task name, item id), instead of a broker round-trip."""
    sent: list[tuple[str, int]] = []
    for task in (tasks.analyze_media, tasks.index_media, tasks.unindex_media):
        monkeypatch.setattr(task, "delay", lambda item_id, _n=task.name: sent.append((_n, item_id)))
    return sent


def jpeg(width: int = 64, height: int = 48, color=(200, 80, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def make_user(db):
    def make(username: str = "alice"):
        return get_user_model().objects.create_user(
            username, f"{username}@example.test", "pw-123456!"
        )

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


@pytest.fixture
def bob_api(bob) -> APIClient:
    client = APIClient()
    client.force_authenticate(bob)
    return client


@pytest.fixture
def alice_web(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_web(bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture(scope="session")
def bank_embeddings() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([unit(rng.normal(size=DIM)) for _ in range(N_CONCEPTS)])


@pytest.fixture
def fake_bank(bank_embeddings):
    names = [f"concept <{i}>" for i in range(N_CONCEPTS)]
    return SimpleNamespace(
        names=names, wnids=[f"n{i:08d}" for i in range(N_CONCEPTS)], embeddings=bank_embeddings
    )


def fake_analysis(bank_embeddings, concept_ids=(3, 5), weights=(0.7, 0.3)) -> SimpleNamespace:
    raw = sum(w * bank_embeddings[c] for c, w in zip(concept_ids, weights, strict=True))
    norm = float(np.linalg.norm(raw))  # as in ConSE: vector == sum(w_i e_i) and |vector| == 1
    vec, unit_weights = (raw / norm).astype(np.float32), [w / norm for w in weights]
    cam = [[float(r * 7 + c) for c in range(7)] for r in range(7)]
    tags = [
        SimpleNamespace(
            concept_id=cid,
            name=f"concept <{cid}>",
            wnid=f"n{cid:08d}",
            score=w,
            cam=cam,
            box=(0.1, 0.2, 0.6, 0.9),
            justification=f"<script>alert({cid})</script> looks like it",
        )
        for cid, w in zip(concept_ids, weights, strict=True)
    ]
    return SimpleNamespace(
        width=64,
        height=48,
        tags=tags,
        semantic=SimpleNamespace(vector=vec, concept_ids=list(concept_ids), weights=unit_weights),
        cams={cid: cam for cid in concept_ids},
        appearance=[0.5] * 8,
        timings={"infer": 1.0},
    )


@pytest.fixture
def make_item(alice, bank_embeddings, django_capture_on_commit_callbacks):
    """An uploaded item; ``ready=True`` also stores a fake analysis and marks it indexed."""

    def make(owner=None, *, visibility="private", ready=True, title="photo", status=None):
        upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            item = actions.create_media(owner or alice, upload, title, visibility)
        if ready:
            actions.record_analysis(item.pk, fake_analysis(bank_embeddings))
            actions.mark_indexed(item.pk)
        if status:
            MediaItem.objects.filter(pk=item.pk).update(status=status)
        item.refresh_from_db()
        return item

    return make


@dataclass
class FakeEncoder:
    embeddings: np.ndarray
    calls: list[list[str]] = field(default_factory=list)

    def embed_texts(self, texts):
        self.calls.append(list(texts))
        return np.stack([self.embeddings[3] for _ in texts])


@dataclass
class FakeIndex:
    """Returns every item id it is told about, best first; ignores visibility on purpose so
    the web layer's own re-check is what the tests exercise."""

    ids: list[int] = field(default_factory=list)
    searches: list[tuple[int, int | None]] = field(default_factory=list)

    def search(self, vector, limit, viewer_id):
        self.searches.append((limit, viewer_id))
        return [Hit(id=i, score=0.9 - 0.1 * n) for n, i in enumerate(self.ids)][:limit]


@pytest.fixture
def fake_services(monkeypatch, bank_embeddings, fake_bank):
    encoder, index = FakeEncoder(bank_embeddings), FakeIndex()
    monkeypatch.setattr(runtime, "inference_client", lambda: encoder)
    monkeypatch.setattr(runtime, "media_index", lambda: index)
    monkeypatch.setattr(runtime, "concept_bank", lambda: fake_bank)
    return SimpleNamespace(encoder=encoder, index=index, bank=fake_bank)
