"""The clip profile's loading code, on tiny random CLIP and BLIP configurations.

No real CLIP or BLIP weights exist offline (MODELS.md), so these check the mechanics only:
tiny models saved with ``save_pretrained`` load through the same code as real weights, the
outputs have the contract's shapes, ``mean(CAM) + bias == logit`` exactly, a caption comes
back with grounded flags, and the fetch script fails fast without internet. Accuracy is not
measured here.

    .venv-models/bin/python -m pytest tests/models/test_clip_profile.py -p no:django -q
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from glassbox.concepts import ConceptBank  # noqa: E402
from glassbox.nn.clip.captioner import load_captioner, noun_phrases  # noqa: E402
from glassbox.nn.clip.encoder import (  # noqa: E402
    CONCEPT_PROMPT,
    MissingWeights,
    load_clip_concepts,
    load_clip_text,
)
from glassbox.nn.clip.weights import (  # noqa: E402
    BANK_HOME,
    BLIP_HOME,
    BLIP_HUB_ID,
    CLIP_HOME,
    CLIP_HUB_ID,
    CLIP_LINKS,
)

from tests.support.clip_tiny import (  # noqa: E402
    clip_repository_template,
    save_tiny_blip,
    save_tiny_clip,
    tiny_bank,
)

REPO = Path(__file__).resolve().parents[2]
FETCH = REPO / "infra" / "bin" / "fetch-clip-weights"


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)


def test_default_path_imports_no_clip_code():
    code = (
        "import sys, glassbox.config, glassbox.profiles, glassbox.nn\n"
        "s = glassbox.config.load_settings({})\n"
        "assert s.profile == 'offline' and s.model_repository.name == 'model_repository'\n"
        "assert not any(m.startswith('glassbox.nn.clip') for m in sys.modules)\n"
        "assert not any(m.startswith('transformers') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_tiny_repository_layout(tiny_repo):
    for model in ("image_concepts", "text_embedding", "caption"):
        assert (tiny_repo / model / "config.pbtxt").is_file()
        assert (tiny_repo / model / "1" / "model.py").is_file()
    clip_home = (tiny_repo / CLIP_HOME).resolve()
    for link in CLIP_LINKS:
        assert (tiny_repo / link).resolve() == clip_home
    assert (tiny_repo / BLIP_HOME / "config.json").is_file()
    # the configs are the real ones: the tiny models give the real contract's dims
    for model in ("image_concepts", "text_embedding", "caption"):
        real = clip_repository_template() / model / "config.pbtxt"
        assert (tiny_repo / model / "config.pbtxt").read_text() == real.read_text()


def test_concept_bank_is_the_source_bank_encoded_by_clip(tiny_repo):
    bank = ConceptBank.load(tiny_repo / BANK_HOME)
    assert len(bank) == 1002 and bank.n_leaves == 1000 and bank.dim == 512
    assert bank.names[-1] == "vehicle" and bank.members.shape == (2, 1000)
    assert np.allclose(np.linalg.norm(bank.embeddings, axis=1), 1.0, atol=1e-5)
    assert bank.version == "tiny-test-bank+clip-512d"
    clip = load_clip_text(tiny_repo / "text_embedding" / "1")
    again = clip.encode([CONCEPT_PROMPT.format(name="vehicle")])[0]
    np.testing.assert_allclose(again, bank.embeddings[-1], atol=1e-5)


def test_image_concepts_shapes_and_exact_bias(tiny_repo, images):
    net, bank = load_clip_concepts(tiny_repo / "image_concepts" / "1", top_k=16)
    out = net.run(images)
    assert out.logits.shape == (3, 1000) and out.logits.dtype == np.float32
    assert out.pooled.shape == (3, 512)
    assert out.cam_indices.shape == (3, 16) and out.cam_indices.dtype == np.int32
    assert out.cams.shape == (3, 16, 7, 7) and out.cam_bias.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(out.pooled, axis=1), 1.0, atol=1e-5)
    chosen = np.take_along_axis(out.logits, out.cam_indices.astype(np.int64), axis=1)
    assert np.all(np.diff(chosen, axis=1) <= 0)  # descending
    assert np.array_equal(out.cam_indices[:, 0], out.logits.argmax(axis=1))
    # the contract's arithmetic holds exactly (float32 rounding only)
    np.testing.assert_allclose(out.cams.mean(axis=(2, 3)) + out.cam_bias, chosen, atol=1e-5)
    # logits are CLIP's scaled cosines against the bank's leaf embeddings
    expected = net.clip.logit_scale * out.pooled @ bank.embeddings[: bank.n_leaves].T
    np.testing.assert_allclose(out.logits, expected, atol=1e-4)
    # the maps are patch-level similarities, not constants: they vary over the grid
    assert out.cams.std(axis=(2, 3)).min() > 0


def test_image_concepts_batches_like_single_items(tiny_repo, images):
    net, _ = load_clip_concepts(tiny_repo / "image_concepts" / "1")
    both = net.run(images[:2])
    one = net.run(images[1:2])
    np.testing.assert_allclose(both.logits[1], one.logits[0], atol=1e-4)
    np.testing.assert_allclose(both.cams[1], one.cams[0], atol=1e-4)


def test_image_input_resizes_whole_image(tiny_repo):
    net, _ = load_clip_concepts(tiny_repo / "image_concepts" / "1")
    big = np.random.default_rng(1).integers(0, 256, (1, 300, 500, 3), dtype=np.uint8)
    assert net.run(big).cams.shape == (1, 16, 7, 7)
    with pytest.raises(ValueError):
        net.run(big.astype(np.float32))


def test_text_embedding(tiny_repo):
    enc = load_clip_text(tiny_repo / "text_embedding" / "1")
    emb = enc.encode(["a dog", "two cats sleeping on a couch", "x" * 500])
    assert emb.shape == (3, 512) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(emb[0], emb[1])
    np.testing.assert_allclose(enc.encode(["a dog"])[0], emb[0], atol=1e-5)
    assert enc.encode([]).shape == (0, 512)


def test_caption_with_grounded_phrases(tiny_repo):
    cap = load_captioner(tiny_repo / "caption" / "1")
    imgs = np.random.default_rng(2).integers(0, 256, (2, 384, 384, 3), dtype=np.uint8)
    out = cap.run(imgs)
    assert out.captions.shape == (2, 1)
    assert out.phrases.shape == (2, 8) and out.maps.shape == (2, 8, 7, 7)
    assert out.scores.shape == (2, 8) and out.grounded.shape == (2, 8)
    assert out.grounded.dtype == bool
    for i in range(2):
        caption = out.captions[i, 0].decode()
        assert isinstance(caption, str) and caption.strip()
        phrases = [p.decode() for p in out.phrases[i] if p]
        assert phrases == noun_phrases(caption)[: len(phrases)]
        n = len(phrases)
        assert not out.grounded[i, n:].any() and not out.maps[i, n:].any()
        for j in range(n):
            assert out.scores[i, j] == pytest.approx(float(out.maps[i, j].max()))
            assert out.grounded[i, j] == (out.scores[i, j] >= cap.threshold)


def test_grounding_threshold_marks_ungrounded_phrases(tiny_repo):
    cap = load_captioner(tiny_repo / "caption" / "1")
    image = np.random.default_rng(3).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    import torch

    _, patches = cap.clip.image_embeddings(torch.from_numpy(image))
    phrases = ["a dog", "a red car"]
    cap.threshold = -1.0
    assert all(g.grounded for g in cap.ground(patches[0], phrases))
    cap.threshold = 1.01  # above any cosine: nothing can be grounded
    found = cap.ground(patches[0], phrases)
    assert [g.phrase for g in found] == phrases
    assert not any(g.grounded for g in found)
    assert all(g.map.shape == (7, 7) and -1 <= g.score <= 1 for g in found)


@pytest.mark.parametrize(
    "caption, phrases",
    [
        ("a dog sitting on a bench with a frisbee", ["a dog", "a bench", "a frisbee"]),
        ("a man riding a horse and a woman", ["a man", "a horse", "a woman"]),
        ("two cats sleeping on a couch.", ["two cats", "a couch"]),
        ("a tall building next to a street", ["a tall building", "a street"]),
        ("there is a plate of food on the table", ["a plate", "food", "the table"]),
        ("", []),
    ],
)
def test_noun_phrases(caption, phrases):
    assert noun_phrases(caption) == phrases


def test_missing_weights_name_the_fetch_script(tmp_path):
    with pytest.raises(MissingWeights, match="fetch-clip-weights"):
        load_clip_text(tmp_path)
    with pytest.raises(MissingWeights, match="fetch-clip-weights"):
        load_clip_concepts(tmp_path)


def _fetch(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess, float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environ.update(env)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(FETCH), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )
    return done, time.monotonic() - start


@pytest.mark.parametrize(
    "env",
    [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],
    ids=["hf-offline", "hub-unreachable"],
)
def test_fetch_fails_fast_offline(tmp_path, env):
    bank = tiny_bank(tmp_path / "bank.npz", n=3)
    repo = tmp_path / "repo"
    done, took = _fetch(
        ["--repository", str(repo), "--offline-bank", str(bank), "--timeout", "3"], **env
    )
    assert done.returncode == 2, done.stderr
    assert took < 60
    for needed in (
        CLIP_HUB_ID,
        BLIP_HUB_ID,
        str(repo / CLIP_HOME),
        str(repo / BLIP_HOME),
    ):
        assert needed in done.stderr
    assert not (repo / CLIP_HOME).exists()


def test_fetch_places_local_copies(tmp_path):
    """With ``--clip-source``/``--blip-source`` no hub is needed: the placement and the bank
    encoding of the real script run on tiny models."""
    clip_src = save_tiny_clip(tmp_path / "src" / "clip")
    blip_src = save_tiny_blip(tmp_path / "src" / "blip")
    bank = tiny_bank(tmp_path / "bank.npz", n=5)
    repo = tmp_path / "repo"
    done, _ = _fetch(
        [
            "--repository", str(repo),
            "--clip-source", str(clip_src),
            "--blip-source", str(blip_src),
            "--offline-bank", str(bank),
        ],
        HF_HUB_OFFLINE="1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (repo / BANK_HOME).is_file()
    assert (repo / "caption" / "1" / "clip" / "config.json").is_file()
    assert load_clip_text(repo / "text_embedding" / "1").dim == 512


def test_fetch_needs_the_offline_bank(tmp_path):
    done, _ = _fetch(
        ["--repository", str(tmp_path / "r"), "--offline-bank", str(tmp_path / "none.npz")],
        HF_HUB_OFFLINE="1",
    )
    assert done.returncode == 1 and "glassbox.tools.prepare" in done.stderr
