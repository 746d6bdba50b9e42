"""Nudity detection: NudeNet's ``320n.onnx`` (a YOLOv8n detector) through onnxruntime.

The model ships inside the ``nudenet`` wheel. Pre- and post-processing reproduce
``nudenet.NudeDetector`` 3.4.2 (pad to a square at the bottom/right, resize to 320, values in
[0, 1]; keep boxes scoring ≥ 0.2, then non-maximum suppression at IoU 0.45), but take RGB
arrays, batch several images into one pass, and give float pixel boxes ``(x0, y0, x1, y1)``.
One deliberate difference: the model gets RGB, as Ultralytics models are trained. NudeDetector
converts a 3-channel image twice (``COLOR_RGBA2BGR`` swaps channels, then ``swapRB=True``) and
so feeds BGR; on darknet's ``person.jpg`` (a clothed woman) that gave BUTTOCKS_EXPOSED 0.38,
while RGB gives FEET_COVERED 0.32 at her feet.
Scores are the model's raw class confidences: thresholds are the caller's business (a clothed
person once scored 0.38 on an exposed-part label).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from glassbox.evidence_types import NUDITY_LABELS, Detection
from glassbox.nn import _threads_from_env, require_file

MODEL_FILE = "320n.onnx"
INPUT_SIZE = 320
MIN_SCORE = 0.2  # NudeNet's candidate threshold
NMS_SCORE = 0.25  # NudeNet's cv2.dnn.NMSBoxes arguments
NMS_IOU = 0.45
# NudeNet 3.4.2's label order; the model's own metadata ("names") is preferred when present.
LABELS = NUDITY_LABELS


def bundled_model_path() -> Path:
    """``320n.onnx`` inside the installed nudenet wheel (importing nudenet loads nothing)."""
    import importlib.util

    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nudenet is not installed (pip install nudenet==3.4.2)")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def session_options(threads: int | None = None):
    """onnxruntime options: ``threads`` intra-op threads, else ``GLASSBOX_TORCH_THREADS``,
    else onnxruntime's default; sequential execution, full graph optimisation."""
    import onnxruntime as ort

    if threads is None:
        threads = _threads_from_env()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads is not None:
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
    return options


class NsfwDetector:
    """``detect(image)`` → NudeNet detections in an RGB uint8 ``[H, W, 3]`` image."""

    def __init__(self, threads: int | None = None, min_score: float = MIN_SCORE):
        import onnxruntime as ort

        path = bundled_model_path()
        require_file(path, "NudeNet model", "nudenet==3.4.2")
        self.session = ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.labels = _labels(self.session)
        self.min_score = float(min_score)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detections by descending score; boxes in pixels, inside the image."""
        return self.detect_many([image])[0]

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """One forward pass over several images (of any sizes); one list per image."""
        if not images:
            return []
        blobs, sides = [], []
        for image in images:
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"expected uint8 [H, W, 3], got {image.dtype} {image.shape}")
            if image.shape[0] == 0 or image.shape[1] == 0:
                raise ValueError(f"empty image {image.shape}")
            blob, side = _preprocess(image)
            blobs.append(blob)
            sides.append(side)
        raw = self.session.run(None, {self.input_name: np.concatenate(blobs)})[0]
        return [
            self._postprocess(raw[i], sides[i], image.shape[1], image.shape[0])
            for i, image in enumerate(images)
        ]

    def _postprocess(self, raw: np.ndarray, side: int, width: int, height: int):
        import cv2

        rows = np.asarray(raw, dtype=np.float32).T  # [candidates, 4 + classes]
        class_scores = rows[:, 4:]
        best = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), best]
        keep = scores >= self.min_score
        if not keep.any():
            return []
        rows, best, scores = rows[keep], best[keep], scores[keep]
        scale = side / INPUT_SIZE  # the padded square's side over the model's input side
        cx, cy, w, h = (rows[:, k] * scale for k in range(4))
        x0 = np.clip(cx - w / 2, 0, width)
        y0 = np.clip(cy - h / 2, 0, height)
        x1 = np.clip(cx + w / 2, 0, width)
        y1 = np.clip(cy + h / 2, 0, height)
        xywh = [
            [float(a), float(b), float(c - a), float(d - b)]
            for a, b, c, d in zip(x0, y0, x1, y1, strict=True)
        ]
        kept = cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(), NMS_SCORE, NMS_IOU)
        detections = [
            Detection(
                label=self.labels[int(best[i])],
                box=(float(x0[i]), float(y0[i]), float(x1[i]), float(y1[i])),
                score=float(scores[i]),
            )
            for i in np.asarray(kept, dtype=np.int64).reshape(-1)
            if x1[i] > x0[i] and y1[i] > y0[i]
        ]
        detections.sort(key=lambda d: -d.score)
        return detections


def _preprocess(image: np.ndarray) -> tuple[np.ndarray, int]:
    """NCHW float32 [1, 3, 320, 320] in [0, 1] (RGB), and the padded square's side."""
    import cv2

    height, width = image.shape[:2]
    side = max(height, width)
    square = cv2.copyMakeBorder(
        np.ascontiguousarray(image), 0, side - height, 0, side - width, cv2.BORDER_CONSTANT
    )
    blob = cv2.dnn.blobFromImage(
        square, 1 / 255.0, (INPUT_SIZE, INPUT_SIZE), (0, 0, 0), swapRB=False, crop=False
    )
    return blob.astype(np.float32, copy=False), side


def _labels(session) -> tuple[str, ...]:
    names = session.get_modelmeta().custom_metadata_map.get("names")
    if names:
        try:
            table = ast.literal_eval(names)
            return tuple(str(table[i]) for i in range(len(table)))
        except (ValueError, SyntaxError, KeyError, TypeError):
            pass
    return LABELS
