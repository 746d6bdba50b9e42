"""What the analysis needs from its services: the models in Triton (``ConceptModel``) and
the concept hierarchy (``Concepts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from glassbox.clients.triton import ConceptOutput
    from glassbox.evidence_types import Detection, ObjectDetection
    from glassbox.explain.caption import OcrLine


class ConceptModel(Protocol):
    """What the pipeline needs from Triton (``glassbox.clients.triton.InferenceClient``)."""

    def analyze_images(self, batch: np.ndarray) -> ConceptOutput: ...

    def read_text(self, image: np.ndarray) -> list[OcrLine]: ...  # when settings.ocr

    def detect_nsfw(self, image: np.ndarray) -> list[Detection]: ...  # when settings.nsfw

    def detect_objects(self, image: np.ndarray) -> list[ObjectDetection]: ...  # settings.objects

    # images of one size in one request: an image's masked copies (object counterfactuals)
    def detect_objects_many(self, images: Sequence[np.ndarray]) -> list[list[ObjectDetection]]: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...  # for read text


class Concepts(Protocol):
    names: Sequence[str]
    wnids: Sequence[str]
    embeddings: np.ndarray  # float32 [n_concepts, d], unit rows
    members: np.ndarray  # bool [n_broader, n_leaves]
    n_leaves: int

    def broader_probs(self, leaf_probs: np.ndarray) -> np.ndarray: ...

    def is_leaf(self, i: int) -> bool: ...

    def path(self, i: int, depth: int = 2) -> list[int]: ...

    def leaves_of(self, i: int) -> np.ndarray: ...
