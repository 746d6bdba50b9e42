"""Fixtures for the web tests: users, clients, images, analysed items and fake services.

Enqueueing is recorded instead of sent (real-worker tests live in tests/integration), and the
Triton/Milvus clients are replaced by small in-memory fakes where a test needs them.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from glassbox.analysis.evidence import TagEvidence
from glassbox.analysis.pipeline import Analysis
from glassbox.analysis.version import ANALYSIS_MODELS
from glassbox.clients.milvus.search import Hit
from glassbox.explain.caption import Caption
from glassbox.retrieval.conse import SemanticVector
from glassbox_web import queue, runtime
from media.actions import commands, lifecycle
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
    monkeypatch.setattr(queue, "send", lambda name, item_id: sent.append((name, item_id)))
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


FAKE_MODEL_VERSIONS = {name: "1" for name in ANALYSIS_MODELS}
FAKE_BANK_VERSION = "fake-bank-1"


class FakeBank(SimpleNamespace):
    """Concepts "concept <i>" (all leaves); concept 11 is the broader "animal" above 3 and 5."""

    def __len__(self) -> int:
        return len(self.names)

    def find(self, word: str) -> list[int]:
        return [i for i, name in enumerate(self.names) if name == word.strip().lower()]

    def ancestors(self, i: int) -> list[int]:
        return [11] if i in (3, 5) else []


@pytest.fixture
def fake_bank(bank_embeddings):
    names = [f"concept <{i}>" for i in range(N_CONCEPTS - 1)] + ["animal"]
    return FakeBank(
        names=names,
        wnids=[f"n{i:08d}" for i in range(N_CONCEPTS)],
        embeddings=bank_embeddings,
        n_leaves=N_CONCEPTS,
        version=FAKE_BANK_VERSION,
    )


_APPEARANCES = itertools.count()


def _distinct_appearance() -> list[float]:
    rng = np.random.default_rng(next(_APPEARANCES))
    return [float(v) for v in np.abs(rng.normal(size=8)) * (rng.random(8) > 0.5)] or [1.0] * 8


def fake_analysis(
    bank_embeddings, concept_ids=(3, 5), weights=(0.7, 0.3), appearance=None, caption=None
) -> Analysis:
    """An ``Analysis`` of the fake bank's concepts, without caption or read text unless
    ``caption`` is given."""
    raw = sum(w * bank_embeddings[c] for c, w in zip(concept_ids, weights, strict=True))
    norm = float(np.linalg.norm(raw))  # as in ConSE: vector == sum(w_i e_i) and |vector| == 1
    vec, unit_weights = (raw / norm).astype(np.float32), [w / norm for w in weights]
    cam = [[float(r * 7 + c) for c in range(7)] for r in range(7)]
    tags = [
        TagEvidence(
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
    return Analysis(
        width=64,
        height=48,
        concepts=[],
        tags=tags,
        semantic=SemanticVector(
            vector=vec, concept_ids=np.array(concept_ids), weights=np.array(unit_weights)
        ),
        cams={cid: cam for cid in concept_ids},
        # distinct by default, so that items are not grouped as near-duplicates
        appearance=list(appearance) if appearance is not None else _distinct_appearance(),
        timings={"infer": 1.0},
        caption=caption if caption is not None else Caption(text="", phrases=[]),
    )


@pytest.fixture
def make_item(alice, bank_embeddings, django_capture_on_commit_callbacks):
    """An uploaded item; ``ready=True`` also stores a fake analysis and marks it indexed."""

    def make(
        owner=None, *, visibility="private", ready=True, title="photo", status=None, **analysis
    ):
        upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            item = commands.create_media(owner or alice, upload, title, visibility)
        if ready:
            with django_capture_on_commit_callbacks(execute=True):
                lifecycle.record_analysis(item.pk, fake_analysis(bank_embeddings, **analysis))
            lifecycle.mark_indexed(item.pk)
        if status:
            MediaItem.objects.filter(pk=item.pk).update(status=status)
        item.refresh_from_db()
        return item

    return make


@dataclass
class FakeEncoder:
    embeddings: np.ndarray
    calls: list[list[str]] = field(default_factory=list)
    overrides: dict[str, np.ndarray] = field(default_factory=dict)  # text -> its vector

    def embed_texts(self, texts):
        self.calls.append(list(texts))
        return np.stack([self.overrides.get(t, self.embeddings[3]) for t in texts])

    def model_versions(self):  # Triton's READY models (media.reprocess.current_versions)
        return dict(FAKE_MODEL_VERSIONS)


@dataclass
class FakeIndex:
    """Returns every item id it is told about, best first; ignores visibility on purpose so
    the web layer's own re-check is what the tests exercise. ``text_ids`` answer the lexical
    channels. Every call is recorded with its filters."""

    ids: list[int] = field(default_factory=list)
    text_ids: dict[str, list[int]] = field(default_factory=dict)
    searches: list[tuple[int, int | None]] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)
    appearance_dim: int = 8

    def search(self, vector, limit, viewer_id, filters=None, field="semantic", offset=0):
        self.searches.append((limit, viewer_id))
        self.calls.append((field, limit, viewer_id, filters))
        return [Hit(id=i, score=0.9 - 0.1 * n) for n, i in enumerate(self.ids)][:limit]

    def search_text(self, terms, field, limit, viewer_id, filters=None):
        self.calls.append((field, limit, viewer_id, filters, terms))
        return [Hit(id=i, score=1.0) for i in self.text_ids.get(field, [])][:limit]


@pytest.fixture
def fake_services(monkeypatch, bank_embeddings, fake_bank):
    encoder, index = FakeEncoder(bank_embeddings), FakeIndex()
    monkeypatch.setattr(runtime, "inference_client", lambda: encoder)
    monkeypatch.setattr(runtime, "media_index", lambda: index)
    monkeypatch.setattr(runtime, "concept_bank", lambda: fake_bank)
    return SimpleNamespace(encoder=encoder, index=index, bank=fake_bank)
