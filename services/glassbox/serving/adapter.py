"""The part of every Triton ``model.py`` that is not its model.

A model.py's ``TritonPythonModel`` subclasses one of the adapters below and writes only what
is its own:

- ``load(config)``: read what it needs from its config and load its model;
- ``run(batches)``: one forward pass over every request's batch (see ``batching.answer``);
- ``pack(batch, outputs)``, unless ``run`` gives a tuple of arrays in the order of ``outputs``.

The adapter does the rest: ``initialize`` parses ``args`` once (:class:`ModelConfig`),
``execute`` keeps the batching contract, requests' ``IMAGE``/``TEXT``/``FRAMES`` tensors are
checked here (a bad one is refused alone), and responses and refusals are built here.

The python backend's ``triton_python_backend_utils`` is importable only inside Triton: the
model.py hands it over as the class attribute ``pb_utils``, so this module imports nothing of
Triton's and the tests give it a stand-in (tests/support/triton_stub.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from glassbox.evidence_types import to_fractions
from glassbox.serving.batching import answer, frame_windows, image_batch, utf8_texts


class ModelConfig:
    """``initialize``'s ``args``, parsed once: the model's ``config.pbtxt`` (as Triton hands it
    over, JSON), its version folder (where its weights were placed) and the raw ``args``."""

    def __init__(self, pb_utils: Any, args: dict[str, str]):
        self._pb = pb_utils
        self.args = args
        self.config = json.loads(args["model_config"])
        self.version_dir = Path(args["model_repository"]) / args["model_version"]

    def input_dims(self, name: str) -> list[int]:
        return [int(d) for d in self._pb.get_input_config_by_name(self.config, name)["dims"]]

    def output_dims(self, name: str) -> list[int]:
        return [int(d) for d in self._pb.get_output_config_by_name(self.config, name)["dims"]]

    def output_dtype(self, name: str) -> Any:
        data_type = self._pb.get_output_config_by_name(self.config, name)["data_type"]
        return self._pb.triton_string_to_numpy(data_type)

    def parameter(self, key: str, default: str) -> str:
        """A ``parameters: { key: …, value: { string_value: … } }`` entry, or ``default``."""
        return self.config.get("parameters", {}).get(key, {}).get("string_value", default)


class Adapter:
    """``initialize`` and ``execute`` of a ``TritonPythonModel``; see the module's docstring."""

    name: ClassVar[str]  # the model's name, in "<name> failed: …" errors
    pb_utils: ClassVar[Any]  # triton_python_backend_utils, given by the model.py
    outputs: ClassVar[tuple[str, ...]] = ()  # the output tensors, in the order run gives them

    def initialize(self, args: dict[str, str]) -> None:
        config = ModelConfig(self.pb_utils, args)
        self.configure(config)
        self.load(config)

    def configure(self, config: ModelConfig) -> None:
        """What the adapter itself reads from the config (before ``load``)."""
        self.dtypes = {name: config.output_dtype(name) for name in self.outputs}

    def load(self, config: ModelConfig) -> None:
        raise NotImplementedError

    def parse(self, request: Any) -> Any:
        """One request's batch; a ``ValueError`` refuses that request alone."""
        raise NotImplementedError

    def run(self, batches: list[Any]) -> Any:
        raise NotImplementedError

    def pack(self, batch: Any, outputs: Any) -> list[Any]:
        """One request's output tensors; by default ``outputs`` is one array per name of
        ``outputs``, in order."""
        return self.tensors(outputs)

    def tensors(self, arrays: Sequence[np.ndarray]) -> list[Any]:
        """One tensor per name of ``outputs``, each cast to the config's data type."""
        return [
            self.pb_utils.Tensor(name, array.astype(self.dtypes[name], copy=False))
            for name, array in zip(self.outputs, arrays, strict=True)
        ]

    def respond(self, batch: Any, outputs: Any) -> Any:
        return self.pb_utils.InferenceResponse(output_tensors=self.pack(batch, outputs))

    def refuse(self, message: str) -> Any:
        return self.pb_utils.InferenceResponse(error=self.pb_utils.TritonError(message))

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        """One forward pass over every request; exactly one response per request, in order."""
        return answer(requests, self.parse, self.run, self.respond, self.refuse, self.name)


class ImageAdapter(Adapter):
    """Requests carry ``IMAGE``, uint8 ``[N, H, W, 3]``. The config's ``IMAGE`` dims fix
    ``(H, W, 3)``; where one of them is -1 (variable), any non-empty size is taken."""

    def configure(self, config: ModelConfig) -> None:
        super().configure(config)
        dims = tuple(config.input_dims("IMAGE"))
        self.image_shape = dims if min(dims) > 0 else None

    def parse(self, request: Any) -> np.ndarray:
        tensor = self.pb_utils.get_input_tensor_by_name(request, "IMAGE")
        return image_batch(tensor, self.image_shape)


class FramesAdapter(Adapter):
    """Requests carry ``FRAMES``, uint8 ``[N, T, H, W, 3]``: windows of a clip's frames, whose
    per-item shape ``(T, H, W, 3)`` the config's ``FRAMES`` dims fix."""

    def configure(self, config: ModelConfig) -> None:
        super().configure(config)
        self.frames_shape = tuple(config.input_dims("FRAMES"))

    def parse(self, request: Any) -> np.ndarray:
        tensor = self.pb_utils.get_input_tensor_by_name(request, "FRAMES")
        return frame_windows(tensor, self.frames_shape)


class TextAdapter(Adapter):
    """Requests carry ``TEXT`` (BYTES, UTF-8); the answer is ``EMBEDDING``, one row per text:
    ``run`` gives a float ``[n, dim]`` array, ``dim`` being the config's."""

    outputs = ("EMBEDDING",)

    def configure(self, config: ModelConfig) -> None:
        super().configure(config)
        self.dim = config.output_dims("EMBEDDING")[0]

    def parse(self, request: Any) -> list[str]:
        return utf8_texts(self.pb_utils.get_input_tensor_by_name(request, "TEXT"))

    def pack(self, texts: list[str], embeddings: np.ndarray) -> list[Any]:
        out = np.ascontiguousarray(embeddings, dtype=self.dtypes["EMBEDDING"])
        return [self.pb_utils.Tensor("EMBEDDING", out)]


class BoxesAdapter(ImageAdapter):
    """Images in; for each image up to ``limit`` labelled boxes out, padded (see
    :func:`padded_boxes`). ``outputs`` names the count, label, box and score tensors; the label
    tensor's dims give the limit. ``run`` gives, per image, items with a ``box`` in pixels, a
    ``score`` and their label in the attribute ``label``: text for a ``TYPE_STRING`` label
    tensor, an integer (a class id) for an integer one."""

    label: ClassVar[str]

    def configure(self, config: ModelConfig) -> None:
        super().configure(config)
        self.limit = config.output_dims(self.outputs[1])[0]
        self.text_labels = self.dtypes[self.outputs[1]] == np.object_

    def pack(self, images: np.ndarray, found: list) -> list[Any]:
        arrays = padded_boxes(images, found, self.limit, self.label, text=self.text_labels)
        return self.tensors(arrays)


def padded_boxes(
    images: np.ndarray,
    found: Sequence[Sequence[Any]],
    limit: int,
    label: str,
    *,
    text: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per image, its first ``limit`` items (in the model's order: reading order, descending
    score) as ``COUNT`` int32 ``[n, 1]``, labels ``[n, limit]`` (UTF-8 bytes; with ``text=False``
    int32, e.g. class ids), ``BOXES`` float32 ``[n, limit, 4]`` as fractions of the image and
    ``SCORES`` float32 ``[n, limit]``; the padding is ``b""`` (or 0) and zeros."""
    n, height, width = images.shape[:3]
    count = np.zeros((n, 1), dtype=np.int32)
    if text:
        labels = np.full((n, limit), b"", dtype=np.object_)
    else:
        labels = np.zeros((n, limit), dtype=np.int32)
    boxes = np.zeros((n, limit, 4), dtype=np.float32)
    scores = np.zeros((n, limit), dtype=np.float32)
    for i, items in enumerate(found):
        items = items[:limit]
        count[i, 0] = len(items)
        for j, item in enumerate(items):
            value = getattr(item, label)
            labels[i, j] = value.encode("utf-8") if text else int(value)
            boxes[i, j] = to_fractions(item.box, width, height)
            scores[i, j] = item.score
    return count, labels, boxes, scores
