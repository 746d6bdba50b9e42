"""The Triton ``model.py`` adapters, run against a small stand-in for ``pb_utils``.

``model.py`` only runs inside Triton, so this checks its own job with the real configs and
weights: gather a batch, one response per request, a bad request failing alone.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2] / "model_repository"
NUMPY_TYPES = {
    "TYPE_UINT8": np.uint8,
    "TYPE_INT32": np.int32,
    "TYPE_FP32": np.float32,
    "TYPE_STRING": np.object_,
}
TENSOR = re.compile(r'\{\s*name:\s*"(\w+)",\s*data_type:\s*(\w+),\s*dims:\s*\[([\d,\s]+)\]\s*\}')


def read_config(model: str) -> dict:
    """The parts of ``config.pbtxt`` the adapters read, as Triton hands them over (JSON)."""
    text = (REPO / model / "config.pbtxt").read_text()
    section = {k: text.split(f"{k} [", 1)[1].split("]\n", 1)[0] for k in ("input", "output")}
    return {
        "name": model,
        "max_batch_size": int(re.search(r"max_batch_size:\s*(\d+)", text).group(1)),
        **{
            k: [
                {"name": n, "data_type": t, "dims": [int(d) for d in dims.split(",")]}
                for n, t, dims in TENSOR.findall(body)
            ]
            for k, body in section.items()
        },
    }


class TritonError:
    def __init__(self, message: str):
        self._message = message

    def message(self) -> str:
        return self._message


class Tensor:
    def __init__(self, name: str, array: np.ndarray):
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class InferenceResponse:
    def __init__(self, output_tensors=(), error=None):
        self.outputs = {t.name(): t.as_numpy() for t in output_tensors}
        self.error = error


def _config_by_name(section):
    return lambda config, name: next((t for t in config[section] if t["name"] == name), None)


@pytest.fixture
def pb_utils(monkeypatch):
    fake = types.ModuleType("triton_python_backend_utils")
    fake.TritonError, fake.Tensor, fake.InferenceResponse = TritonError, Tensor, InferenceResponse
    fake.get_input_tensor_by_name = lambda request, name: request.get(name)
    fake.get_input_config_by_name = _config_by_name("input")
    fake.get_output_config_by_name = _config_by_name("output")
    fake.triton_string_to_numpy = NUMPY_TYPES.__getitem__
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", fake)
    return fake


def load_adapter(model: str, version_dir: Path):
    spec = importlib.util.spec_from_file_location(f"adapter_{model}", REPO / model / "1/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapter = module.TritonPythonModel()
    adapter.initialize(
        {
            "model_config": json.dumps(read_config(model)),
            "model_repository": str(version_dir.parent),
            "model_version": version_dir.name,
        }
    )
    return adapter


def test_configs_declare_the_contract_tensors():
    image = read_config("image_concepts")
    assert image["max_batch_size"] == 16
    assert [(t["name"], t["data_type"], t["dims"]) for t in image["input"]] == [
        ("IMAGE", "TYPE_UINT8", [224, 224, 3])
    ]
    assert [(t["name"], t["data_type"], t["dims"]) for t in image["output"]] == [
        ("CONCEPT_LOGITS", "TYPE_FP32", [1000]),
        ("POOLED_FEATURES", "TYPE_FP32", [1280]),
        ("CAM_INDICES", "TYPE_INT32", [16]),
        ("CAMS", "TYPE_FP32", [16, 7, 7]),
        ("CAM_BIAS", "TYPE_FP32", [16]),
    ]
    text = read_config("text_embedding")
    assert text["max_batch_size"] == 64
    assert [(t["name"], t["data_type"], t["dims"]) for t in text["input"]] == [
        ("TEXT", "TYPE_STRING", [1])
    ]
    assert [(t["name"], t["data_type"], t["dims"]) for t in text["output"]] == [
        ("EMBEDDING", "TYPE_FP32", [384])
    ]
    for model in ("image_concepts", "text_embedding"):
        body = (REPO / model / "config.pbtxt").read_text()
        assert "KIND_CPU" in body and "dynamic_batching" in body


def test_image_adapter_answers_each_request_of_a_batch_and_fails_a_bad_one_alone(
    pb_utils, tmp_path, mobilenet_weights, concept_net, photo
):
    version = tmp_path / "image_concepts" / "1"
    version.mkdir(parents=True)
    (version / "mobilenet_v2.pth").symlink_to(mobilenet_weights)
    adapter = load_adapter("image_concepts", version)

    dog, eagle, kite = photo("dog.jpg"), photo("eagle.jpg"), photo("kite.jpg")
    requests = [
        {"IMAGE": Tensor("IMAGE", np.stack([dog, eagle]))},
        {"IMAGE": Tensor("IMAGE", np.zeros((1, 100, 100, 3), np.uint8))},  # malformed
        {},  # IMAGE missing
        {"IMAGE": Tensor("IMAGE", kite[None])},
    ]
    responses = adapter.execute(requests)

    assert len(responses) == 4
    assert responses[1].error is not None and "IMAGE" in responses[1].error.message()
    assert responses[2].error is not None
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    local = concept_net.run(np.stack([dog, eagle, kite]))
    np.testing.assert_allclose(first.outputs["CONCEPT_LOGITS"], local.logits[:2], atol=1e-4)
    np.testing.assert_allclose(last.outputs["CONCEPT_LOGITS"], local.logits[2:], atol=1e-4)
    assert first.outputs["CAMS"].shape == (2, 16, 7, 7)
    assert last.outputs["CAM_INDICES"].dtype == np.int32
    assert set(last.outputs) == {
        "CONCEPT_LOGITS",
        "POOLED_FEATURES",
        "CAM_INDICES",
        "CAMS",
        "CAM_BIAS",
    }


def test_text_adapter_answers_each_request_of_a_batch_and_fails_bad_utf8_alone(
    pb_utils, tmp_path, minilm_dir, text_encoder
):
    version = tmp_path / "text_embedding" / "1"
    version.mkdir(parents=True)
    (version / "encoder").symlink_to(minilm_dir, target_is_directory=True)
    adapter = load_adapter("text_embedding", version)

    def text(*items: bytes):
        return {"TEXT": Tensor("TEXT", np.array([[s] for s in items], dtype=np.object_))}

    responses = adapter.execute(
        [
            text(b"a dog on a beach", "caf\u00e9 au lait".encode()),
            text(b"\xff\xfe broken"),
            text(b"tax law"),
        ]
    )

    assert len(responses) == 3
    assert responses[1].error is not None and "UTF-8" in responses[1].error.message()
    expected = text_encoder.encode(["a dog on a beach", "caf\u00e9 au lait", "tax law"])
    np.testing.assert_allclose(responses[0].outputs["EMBEDDING"], expected[:2], atol=1e-5)
    np.testing.assert_allclose(responses[2].outputs["EMBEDDING"], expected[2:], atol=1e-5)
    assert responses[2].outputs["EMBEDDING"].dtype == np.float32
