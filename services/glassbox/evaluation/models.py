"""The networks the report measures, in process: MobileNetV2 with its concept bank, the
MiniLM text encoder and the SSD-MobileNetV2 object detector, and the adapters that let
``glassbox.analysis.pipeline.analyze`` and the faithfulness curves run on them without Triton."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evaluation.plan import SEED
from glassbox.evidence_types import ObjectDetection
from glassbox.explain import faithfulness
from glassbox.retrieval.conse import softmax
from glassbox.serving.adapter import padded_boxes

WEIGHTS_FILE = "mobilenet_v2.pth"
DETECTOR_MODEL = "object_detection"
BASE_SIZE = 224
MAX_DETECTIONS = 100  # object_detection's config.pbtxt: its outputs hold 100 boxes


@dataclass
class Models:
    net: Any  # glassbox.nn.mobilenet_v2.ConceptNet, top-K = every class (for any class's CAM)
    fast_net: Any  # the same backbone with Triton's top 16 CAMs: for logits and features
    bank: ConceptBank
    encoder: Any  # glassbox.nn.text_encoder.TextEncoder
    weights_path: Path
    detector: Any  # glassbox.nn.ssd.ObjectDetector, as Triton's object_detection runs it
    detector_graph: Path


def load_models(settings: Settings) -> Models:
    import torch

    from glassbox.nn.mobilenet_v2 import NUM_CLASSES, ConceptNet, load_concept_net
    from glassbox.nn.ssd import GRAPH_FILE, ObjectDetector
    from glassbox.nn.text_encoder import TextEncoder

    torch.manual_seed(SEED)
    weights = settings.model_repository / "image_concepts" / "1" / WEIGHTS_FILE
    detector_dir = settings.model_repository / DETECTOR_MODEL / "1"
    net = load_concept_net(weights, top_k=NUM_CLASSES)
    return Models(
        net=net,
        fast_net=ConceptNet(net.backbone).eval(),
        bank=ConceptBank.load(settings.concept_bank_path),
        encoder=TextEncoder(settings.model_repository / "text_embedding" / "1" / "encoder"),
        weights_path=weights,
        detector=ObjectDetector(detector_dir),
        detector_graph=detector_dir / GRAPH_FILE,
    )


class LocalConceptModel:
    """``glassbox.analysis.protocols.ConceptModel`` over the in-process networks, returning
    Triton's top 16 CAMs.

    It reads no text and finds no nudity (no OCR or NSFW models here). Given a ``detector``
    (``glassbox.nn.ssd.ObjectDetector``) it detects objects as Triton's ``object_detection``
    does, the same SSD code, with the answer packed as ``InferenceClient.detect_objects``
    unpacks it: boxes as float32 fractions of the image, at most the model's 100, by
    descending score; without one it detects nothing. Texts (the caption, object phrases)
    are embedded by the same MiniLM encoder that Triton's ``text_embedding`` serves."""

    def __init__(
        self, net: Any, encoder: Any = None, top_k: int = 16, detector: Any = None
    ) -> None:
        self.net = net
        self.encoder = encoder
        self.top_k = top_k
        self.detector = detector

    def analyze_images(self, batch: np.ndarray) -> Any:
        out = self.net.run(batch)
        k = self.top_k
        return out._replace(
            cam_indices=out.cam_indices[:, :k], cams=out.cams[:, :k], cam_bias=out.cam_bias[:, :k]
        )

    def read_text(self, image: np.ndarray) -> list:
        return []

    def detect_nsfw(self, image: np.ndarray) -> list:
        return []

    def detect_objects_many(self, images) -> list[list[ObjectDetection]]:
        return [self.detect_objects(image) for image in images]

    def detect_objects(self, image: np.ndarray) -> list[ObjectDetection]:
        if self.detector is None:
            return []
        image = np.ascontiguousarray(image, dtype=np.uint8)
        found = self.detector.detect(image)
        count, class_ids, boxes, scores = padded_boxes(
            image[None], [found], MAX_DETECTIONS, "class_id", text=False
        )
        return [
            ObjectDetection(
                label=COCO_LABELS[int(class_ids[0, j])],
                class_id=int(class_ids[0, j]),
                box=tuple(float(v) for v in boxes[0, j]),
                score=float(scores[0, j]),
            )
            for j in range(int(count[0, 0]))
        ]

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError("no text encoder given")
        return self.encoder.encode(list(texts))


def image_concepts_only(settings: Settings) -> Settings:
    """``settings`` with the optional OCR and detector stages off, where they exist: the
    analysis as it ran before the object detector ("before" in the objects section)."""
    off = {name: False for name in ("ocr", "nsfw", "objects") if hasattr(settings, name)}
    return dataclasses.replace(settings, **off)


def with_objects(settings: Settings) -> Settings:
    """``settings`` with OCR and nudity off (no such models here) and the object detector,
    its colours and captions on: the analysis as the worker runs it now, less read text."""
    return dataclasses.replace(image_concepts_only(settings), objects=True)


def class_probability(net: Any, class_id: int, batch_size: int = 16) -> faithfulness.Score:
    """``score(batch) -> softmax probability of class_id``, for the faithfulness curves."""

    def score(batch: np.ndarray) -> np.ndarray:
        parts = [
            softmax(net.run(batch[i : i + batch_size]).logits)[:, class_id]
            for i in range(0, len(batch), batch_size)
        ]
        return np.concatenate(parts)

    return score
