"""The judged corpus analysed twice, as sections 4 and 6 compare it: **before** (the
classifier alone, the analysis as it ran before the object detector: ``image_concepts_only``)
and **after** (the analysis as the worker runs it now: classifier, object detector, colours,
object captions and object phrases in the semantic vector; ``with_objects``). Both go through
``glassbox.analysis.pipeline.analyze``, the worker's code path, with the in-process models in
place of Triton. The steps that only annotate tags with re-scored evidence (the classifier's
masked regions and curves, the detector's masked boxes) are off (:func:`without_rescoring`):
they change no tag, object, caption or vector, and cost most of an analysis's time here."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from glassbox.analysis.pipeline import Analysis, analyze
from glassbox.config import Settings
from glassbox.evaluation.models import (
    LocalConceptModel,
    Models,
    image_concepts_only,
    with_objects,
)


@dataclass(frozen=True)
class Analysed:
    """Each photo's analyses, by file name, and the seconds each pass took."""

    photos: tuple[Path, ...]
    before: dict[str, Analysis]
    after: dict[str, Analysis]
    seconds: dict[str, float]


def without_rescoring(settings: Settings) -> Settings:
    """``settings`` without the faithfulness and object-counterfactual steps."""
    return dataclasses.replace(settings, faithfulness="off", object_counterfactuals=0)


def analyse_corpus(models: Models, photos: Sequence[Path], settings: Settings) -> Analysed:
    before_client = LocalConceptModel(models.fast_net, models.encoder)
    after_client = LocalConceptModel(models.fast_net, models.encoder, detector=models.detector)
    passes = {
        "before": (before_client, without_rescoring(image_concepts_only(settings))),
        "after": (after_client, without_rescoring(with_objects(settings))),
    }
    out: dict[str, dict[str, Analysis]] = {}
    seconds = {}
    for name, (client, config) in passes.items():
        started = time.perf_counter()
        out[name] = {p.name: analyze(p.read_bytes(), client, models.bank, config) for p in photos}
        seconds[name] = time.perf_counter() - started
    return Analysed(tuple(photos), out["before"], out["after"], seconds)
