"""One item's analysis: run the steps (``glassbox.analysis.steps.STEPS``) in order on the
image, time each, and return the ``Analysis`` the web stores."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from glassbox.analysis.evidence import CamGrid, ConceptScore, TagEvidence
from glassbox.analysis.protocols import ConceptModel, Concepts
from glassbox.analysis.state import ImageState, Step
from glassbox.analysis.steps import MODERATION, STEPS
from glassbox.explain.caption import Caption, OcrLine
from glassbox.moderation.policies import Policy, default_policies
from glassbox.retrieval.conse import SemanticVector

if TYPE_CHECKING:
    from glassbox.config import Settings
    from glassbox.evidence_types import Detection, TextLine


@dataclass(frozen=True)
class Analysis:
    """What ``media.actions.lifecycle.record_analysis`` stores for one item (the typed
    contract of ``media.actions.persistence``)."""

    width: int
    height: int
    concepts: list[ConceptScore]  # the model's top 16, by descending probability
    tags: list[TagEvidence]
    semantic: SemanticVector
    # concept id -> 7x7 CAM, for every tag and ConSE concept; "t<index>" -> a text term's map
    cams: dict[int | str, CamGrid]
    appearance: list[float]  # pooled backbone features
    # milliseconds per phase: decode, infer (concept model), read (OCR, nudity), explain
    timings: dict[str, float] = field(default_factory=dict)
    caption: Caption = field(default_factory=Caption)  # grounded caption (glassbox.explain.caption)
    text_lines: list[TextLine] = field(default_factory=list)  # OCR, boxes as fractions
    # the read lines that joined the semantic vector: {"text", "box", "score", "embedding"},
    # in the order of semantic.text_weights; their heat maps are cams["t<index>"]
    text_terms: list[dict] = field(default_factory=list)
    nsfw: list[Detection] = field(default_factory=list)  # at or above settings.nsfw_threshold
    # the object detector's classes (glassbox.detection.objects.ObjectEvidence.as_dict, with
    # "colour": RegionColour.as_dict of the best box), most confident first
    objects: list[dict] = field(default_factory=list)
    # one per moderation policy hit (glassbox.moderation.flags.FlagHit.as_dict): the policy's
    # slug, score, whether it hides the item, the rule in words, the evidence (a concept's
    # heat map is cams[concept]) and the counterfactual
    flags: list[dict] = field(default_factory=list)


def analyze(
    data: bytes,
    client: ConceptModel,
    bank: Concepts,
    settings: Settings,
    text_lines: Sequence[OcrLine] | None = None,
    policies: Sequence[Policy] | None = None,
) -> Analysis:
    """Analyse one image upload. Raises ``InvalidMedia`` or the client's ``InferenceFailure``.

    ``text_lines`` are OCR lines ``(text, box, score)`` (box in fractions of width and height);
    by default they are read with the client's ``ocr`` model when ``settings.ocr`` is on.
    ``policies`` are the moderation policies to apply: ``None`` for
    ``default_policies(settings)``, an empty sequence to switch moderation off.
    """
    state = ImageState(
        data,
        client,
        bank,
        settings,
        text_lines=[] if text_lines is None else list(text_lines),
        text_given=text_lines is not None,
        policies=tuple(default_policies(settings) if policies is None else policies),
    )
    timings = run_steps((*STEPS, MODERATION), state)
    return Analysis(
        width=state.image.width,
        height=state.image.height,
        concepts=state.concepts,
        tags=state.tags,
        semantic=state.semantic,
        cams=state.cams,
        appearance=np.asarray(state.output.pooled[0], dtype=np.float32).tolist(),
        timings=timings,
        caption=state.caption,
        text_lines=state.text_lines,
        text_terms=state.text_terms,
        nsfw=state.nsfw,
        objects=[
            {**o.as_dict(), "colour": state.colours[o.class_id].as_dict()}
            if o.class_id in state.colours
            else o.as_dict()
            for o in state.objects
        ],
        flags=[hit.as_dict() for hit in state.flags],
    )


def run_steps(steps: Sequence[Step], state: ImageState) -> dict[str, float]:
    """Run, in order, each step its settings leave on; record each one's milliseconds in
    ``state.step_ms`` and return the milliseconds per timing key (0 where none ran)."""
    totals = dict.fromkeys((step.timing for step in steps), 0.0)
    for step in steps:
        if not step.when(state):
            continue
        started = time.perf_counter()
        step.run(state)
        elapsed = time.perf_counter() - started
        state.step_ms[step.name] = _ms(elapsed)
        totals[step.timing] += elapsed
    return {key: _ms(seconds) for key, seconds in totals.items()}


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)
