"""The clip profile's Triton repository, served by a real (separate) Triton.

The repository is ``model_repository_clip``'s real configs and adapters with tiny random CLIP
and BLIP models, built in the models' environment (the app's has no torch) by
``tests.support.clip_tiny.build_tiny_clip_repository``. This checks serving and contracts
only; nothing here says how accurate the real CLIP or BLIP is (no weights offline).

Triton listens on 29100 (HTTP), 29101 (gRPC) and 29102 (metrics), so it runs next to the test
session's own Triton; it is stopped at the end, also on failure.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from glassbox.clients.triton import InferenceClient, InferenceError
from glassbox_launch.process import LaunchError, start, stop
from glassbox_launch.stack import REPO, Ports, Stack
from glassbox_launch.stack import test_stack as configured_test_stack
from glassbox_launch.triton import models_python

pytestmark = pytest.mark.integration

HTTP_PORT = 29100
OFFLINE_BANK = REPO / "model_repository" / "image_concepts" / "1" / "concept_bank.npz"
CAPTION_OUTPUTS = ("CAPTION", "PHRASES", "PHRASE_MAPS", "PHRASE_SCORES", "PHRASE_GROUNDED")


@pytest.fixture(scope="module")
def tiny_repository(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("clip-profile") / "model_repository_clip"
    argv = [str(models_python()), "-m", "tests.support.clip_tiny", "build-tiny", str(dst)]
    if OFFLINE_BANK.is_file():
        argv += ["--offline-bank", str(OFFLINE_BANK)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return dst


@pytest.fixture(scope="module")
def clip_triton(tiny_repository: Path):
    var = configured_test_stack().var_dir / "clip-profile"
    svc = Stack(var_dir=var, ports=Ports(redis=0, triton=HTTP_PORT, milvus=0, web=0)).triton()
    svc.argv = [
        f"--model-repository={tiny_repository}" if a.startswith("--model-repository=") else a
        for a in svc.argv
    ]
    stop(svc, echo=lambda _m: None)  # left over from an aborted run (our own pid file only)
    try:
        start(svc)
    except LaunchError as exc:
        pytest.fail(f"could not start the clip-profile Triton: {exc}", pytrace=False)
    try:
        yield f"127.0.0.1:{HTTP_PORT}"
    finally:
        stop(svc)


@pytest.fixture(scope="module")
def client(clip_triton: str) -> InferenceClient:
    return InferenceClient(clip_triton, timeout=60.0)


def _images(n: int, side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def test_the_three_models_are_ready(client: InferenceClient) -> None:
    for model in ("image_concepts", "text_embedding", "caption"):
        assert client.model_ready(model), model


def test_image_concepts_keeps_the_contract(client: InferenceClient) -> None:
    out = client.analyze_images(_images(3, 224))
    assert out.logits.shape == (3, 1000) and out.pooled.shape == (3, 512)
    assert out.cam_indices.shape == (3, 16) and out.cams.shape == (3, 16, 7, 7)
    assert out.cam_bias.shape == (3, 16)
    picked = np.take_along_axis(out.logits, out.cam_indices.astype(np.int64), axis=1)
    np.testing.assert_allclose(out.cams.mean(axis=(2, 3)) + out.cam_bias, picked, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out.pooled, axis=1), 1.0, atol=1e-5)


def test_image_batches_above_the_max_are_split(client: InferenceClient) -> None:
    assert client.analyze_images(_images(17, 224)).logits.shape == (17, 1000)


def test_text_embedding_is_clip_sized(client: InferenceClient) -> None:
    e = client.embed_texts(["a dog", "two cats sleeping on a couch", "ünïcödé"])
    assert e.shape == (3, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_a_malformed_image_is_a_request_error(client: InferenceClient) -> None:
    with pytest.raises(InferenceError):
        client.analyze_images(_images(1, 100))


def _caption(url: str, images: np.ndarray):
    from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput

    triton = InferenceServerClient(url, connection_timeout=60, network_timeout=60)
    image = InferInput("IMAGE", list(images.shape), "UINT8")
    image.set_data_from_numpy(images, binary_data=True)
    outputs = [InferRequestedOutput(name, binary_data=True) for name in CAPTION_OUTPUTS]
    result = triton.infer("caption", [image], outputs=outputs)
    return {name: result.as_numpy(name) for name in CAPTION_OUTPUTS}


def test_caption_returns_a_caption_and_grounded_phrases(clip_triton: str) -> None:
    out = _caption(clip_triton, _images(2, 384, seed=5))
    assert out["CAPTION"].shape == (2, 1)
    assert out["PHRASES"].shape == (2, 8) and out["PHRASE_MAPS"].shape == (2, 8, 7, 7)
    assert out["PHRASE_SCORES"].shape == (2, 8) and out["PHRASE_GROUNDED"].shape == (2, 8)
    assert out["PHRASE_GROUNDED"].dtype == np.bool_
    for i in range(2):
        caption = out["CAPTION"][i, 0].decode("utf-8")
        assert caption.strip()
        n = sum(1 for p in out["PHRASES"][i] if p)
        assert n >= 1
        words = set(re.findall(r"[\w'-]+", caption.lower()))
        for phrase in out["PHRASES"][i][:n]:  # phrases are the caption's own words
            assert set(phrase.decode("utf-8").split()) <= words
        assert not out["PHRASE_GROUNDED"][i, n:].any()  # padding is never grounded
        np.testing.assert_allclose(
            out["PHRASE_SCORES"][i, :n], out["PHRASE_MAPS"][i, :n].max(axis=(1, 2)), atol=1e-6
        )


def test_caption_rejects_a_wrong_image_size(clip_triton: str) -> None:
    from tritonclient.utils import InferenceServerException

    with pytest.raises(InferenceServerException):
        _caption(clip_triton, _images(1, 224))
