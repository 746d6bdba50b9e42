"""What the analysis steps share: the per-image ``ImageState`` they read and fill in, and
the ``Step`` record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from glassbox.explain.caption import Caption

if TYPE_CHECKING:
    from PIL import Image

    from glassbox.analysis.evidence import CamGrid, ConceptScore, TagEvidence
    from glassbox.analysis.protocols import ConceptModel, Concepts
    from glassbox.clients.triton import ConceptOutput
    from glassbox.config import Settings
    from glassbox.detection.colour import RegionColour
    from glassbox.detection.objects import ObjectEvidence
    from glassbox.evidence_types import Detection
    from glassbox.explain.caption import OcrLine
    from glassbox.moderation.flags import FlagHit
    from glassbox.moderation.policies import Policy
    from glassbox.retrieval.conse import SemanticVector


@dataclass(eq=False)
class ImageState:
    """One image on its way through the steps: the upload and the services, then what each
    step adds, in step order. A field is filled in by the step named beside it."""

    data: bytes
    client: ConceptModel
    bank: Concepts
    settings: Settings
    # OCR lines (text, box fractions, score): given by the caller, else by "read text"
    text_lines: list[OcrLine] = field(default_factory=list)
    text_given: bool = False
    image: Image.Image | None = None  # "decode": the upload as RGB
    batch: np.ndarray | None = None  # "decode": uint8 [1, size, size, 3], the model's input
    output: ConceptOutput | None = None  # "concepts": the concept model's outputs
    nsfw: list[Detection] = field(default_factory=list)  # "nudity detector"
    objects: list[ObjectEvidence] = field(default_factory=list)  # "objects", most confident first
    colours: dict[int, RegionColour] = field(default_factory=dict)  # "object colours", by class
    # "scores": leaf probabilities, the CAM classes (the model's order) and their CAMs,
    # the CAM classes by descending probability, and the probabilities of only those
    probs: np.ndarray | None = None
    cam_ids: list[int] = field(default_factory=list)
    cam_of: dict[int, np.ndarray] = field(default_factory=dict)  # more join in later steps
    ranked: list[int] = field(default_factory=list)
    in_cams: np.ndarray | None = None
    concepts: list[ConceptScore] = field(default_factory=list)
    caption: Caption = field(default_factory=Caption)  # "caption"
    text_terms: list[dict] = field(default_factory=list)  # "text terms"
    semantic: SemanticVector | None = None  # "semantic vector"
    tags: list[TagEvidence] = field(default_factory=list)  # "tags", then refined
    tag_grids: dict[int, np.ndarray] = field(default_factory=dict)  # grid of each tag's region
    cams: dict[int | str, CamGrid] = field(default_factory=dict)  # "heat maps"
    # "moderation": the policies applied (glassbox.moderation), and a FlagHit per policy hit
    policies: tuple[Policy, ...] = ()
    flags: list[FlagHit] = field(default_factory=list)
    step_ms: dict[str, float] = field(default_factory=dict)  # milliseconds per step that ran
    small: np.ndarray | None = None  # evidence_image(), made once

    @property
    def aspect(self) -> tuple[int, int]:
        return self.image.height, self.image.width

    def evidence_image(self) -> np.ndarray:
        """The image as RGB uint8, its longest side at most ``settings.ocr_max_side``, made
        once: what the evidence models (read text, nudity, objects) get. Their boxes come back
        as fractions, so they fit the original."""
        if self.small is None:
            image, max_side = self.image, self.settings.ocr_max_side
            scale = max_side / max(image.width, image.height)
            if scale < 1:
                size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                image = image.resize(size)
            self.small = np.asarray(image, dtype=np.uint8)
        return self.small


def _always(state: ImageState) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """One named step: ``run`` fills in its part of the state, when ``when`` says so (the
    settings that switch it off); its time counts towards ``Analysis.timings[timing]``."""

    name: str
    timing: str  # decode, infer, read or explain
    run: Callable[[ImageState], None]
    when: Callable[[ImageState], bool] = _always
