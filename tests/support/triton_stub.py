"""A small stand-in for the python backend's ``triton_python_backend_utils``, and a loader that
runs a real ``model.py`` with a real ``config.pbtxt`` against it.

``model.py`` only runs inside Triton, so the adapter tests check its own job with this: gather
a batch, one response per request, a bad request failing alone. Requests are plain dicts of
tensor name to :class:`Tensor`.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from pathlib import Path

import numpy as np

NUMPY_TYPES = {
    "TYPE_UINT8": np.uint8,
    "TYPE_INT32": np.int32,
    "TYPE_FP32": np.float32,
    "TYPE_BOOL": np.bool_,
    "TYPE_STRING": np.object_,
}
TENSOR = re.compile(r'\{\s*name:\s*"(\w+)",\s*data_type:\s*(\w+),\s*dims:\s*\[([-\d,\s]+)\]\s*\}')
PARAMETER = re.compile(
    r'parameters:\s*\{\s*key:\s*"(\w+)",\s*value:\s*\{\s*string_value:\s*"([^"]*)"\s*\}\s*\}'
)


def read_config(model_dir: Path) -> dict:
    """The parts of ``config.pbtxt`` the adapters read, as Triton hands them over (JSON)."""
    text = (Path(model_dir) / "config.pbtxt").read_text()
    section = {k: text.split(f"{k} [", 1)[1].split("]\n", 1)[0] for k in ("input", "output")}
    return {
        "name": Path(model_dir).name,
        "max_batch_size": int(re.search(r"max_batch_size:\s*(\d+)", text).group(1)),
        **{
            k: [
                {"name": n, "data_type": t, "dims": [int(d) for d in dims.split(",")]}
                for n, t, dims in TENSOR.findall(body)
            ]
            for k, body in section.items()
        },
        "parameters": {key: {"string_value": value} for key, value in PARAMETER.findall(text)},
    }


def declared(tensors: list[dict]) -> list[tuple[str, str, list[int]]]:
    """``(name, data_type, dims)`` of each tensor of a config section."""
    return [(t["name"], t["data_type"], t["dims"]) for t in tensors]


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


def _config_by_name(section: str):
    return lambda config, name: next((t for t in config[section] if t["name"] == name), None)


def fake_pb_utils() -> types.ModuleType:
    fake = types.ModuleType("triton_python_backend_utils")
    fake.TritonError, fake.Tensor, fake.InferenceResponse = TritonError, Tensor, InferenceResponse
    fake.get_input_tensor_by_name = lambda request, name: request.get(name)
    fake.get_input_config_by_name = _config_by_name("input")
    fake.get_output_config_by_name = _config_by_name("output")
    fake.triton_string_to_numpy = NUMPY_TYPES.__getitem__
    return fake


def install(monkeypatch) -> types.ModuleType:
    """Make ``import triton_python_backend_utils`` give the stand-in (for this test only)."""
    fake = fake_pb_utils()
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", fake)
    return fake


def load_adapter(model_dir: Path, version_dir: Path | None = None):
    """``model_dir/1/model.py``'s ``TritonPythonModel``, initialised as Triton would on a CPU
    instance, with ``model_dir/config.pbtxt`` and the weights in ``version_dir`` (default
    ``model_dir/1``). The stand-in must be installed first."""
    model_dir = Path(model_dir)
    version_dir = Path(version_dir) if version_dir is not None else model_dir / "1"
    path = model_dir / "1" / "model.py"
    spec = importlib.util.spec_from_file_location(f"adapter_{model_dir.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapter = module.TritonPythonModel()
    adapter.initialize(
        {
            "model_config": json.dumps(read_config(model_dir)),
            "model_repository": str(version_dir.parent),
            "model_version": version_dir.name,
            "model_instance_kind": "CPU",
        }
    )
    return adapter


def image_request(batch: np.ndarray) -> dict:
    return {"IMAGE": Tensor("IMAGE", batch)}


def text_request(*items: bytes) -> dict:
    return {"TEXT": Tensor("TEXT", np.array([[s] for s in items], dtype=np.object_))}
