"""The networks the report measures, in process: MobileNetV2 with its concept bank and the
MiniLM text encoder, and the adapters that let ``glassbox.analysis.pipeline.analyze`` and the
faithfulness curves run on them without Triton."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.evaluation.plan import SEED
from glassbox.explain import faithfulness
from glassbox.retrieval.conse import softmax

WEIGHTS_FILE = "mobilenet_v2.pth"
BASE_SIZE = 224


@dataclass
class Models:
    net: Any  # glassbox.nn.mobilenet_v2.ConceptNet, top-K = every class (for any class's CAM)
    fast_net: Any  # the same backbone with Triton's top 16 CAMs: for logits and features
    bank: ConceptBank
    encoder: Any  # glassbox.nn.text_encoder.TextEncoder
    weights_path: Path


def load_models(settings: Settings) -> Models:
    import torch

    from glassbox.nn.mobilenet_v2 import NUM_CLASSES, ConceptNet, load_concept_net
    from glassbox.nn.text_encoder import TextEncoder

    torch.manual_seed(SEED)
    weights = settings.model_repository / "image_concepts" / "1" / WEIGHTS_FILE
    net = load_concept_net(weights, top_k=NUM_CLASSES)
    return Models(
        net=net,
        fast_net=ConceptNet(net.backbone).eval(),
        bank=ConceptBank.load(settings.concept_bank_path),
        encoder=TextEncoder(settings.model_repository / "text_embedding" / "1" / "encoder"),
        weights_path=weights,
    )


class LocalConceptModel:
    """``glassbox.analysis.protocols.ConceptModel`` over the in-process network, returning
    Triton's top 16 CAMs.

    It reads no text and detects nothing (no OCR or detector models here): the report
    measures the image concepts and the caption composed from them, with
    ``image_concepts_only`` settings; texts (the caption) are embedded by the same MiniLM
    encoder that Triton's ``text_embedding`` serves."""

    def __init__(self, net: Any, encoder: Any = None, top_k: int = 16) -> None:
        self.net = net
        self.encoder = encoder
        self.top_k = top_k

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

    def detect_objects(self, image: np.ndarray) -> list:
        return []

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self.encoder is None:
            raise RuntimeError("no text encoder given")
        return self.encoder.encode(list(texts))


def image_concepts_only(settings: Settings) -> Settings:
    """``settings`` with the optional OCR and detector stages off, where they exist."""
    off = {name: False for name in ("ocr", "nsfw", "objects") if hasattr(settings, name)}
    return dataclasses.replace(settings, **off)


def class_probability(net: Any, class_id: int, batch_size: int = 16) -> faithfulness.Score:
    """``score(batch) -> softmax probability of class_id``, for the faithfulness curves."""

    def score(batch: np.ndarray) -> np.ndarray:
        parts = [
            softmax(net.run(batch[i : i + batch_size]).logits)[:, class_id]
            for i in range(0, len(batch), batch_size)
        ]
        return np.concatenate(parts)

    return score
