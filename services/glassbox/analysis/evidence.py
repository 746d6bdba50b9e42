"""The evidence behind one image's tags: a tag and its CAM, the broader tag carried by its
leaves, the region each map outlines, the one-line justification, the re-scored
(faithfulness) evidence, and the weighted heat map of a set of CAMs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from glassbox.evidence_types import Box
from glassbox.explain import cam
from glassbox.explain import faithfulness as faith
from glassbox.explain.caption import main_concept
from glassbox.explain.justify import (
    counterfactual_sentence,
    group_justification,
    tag_justification,
)

if TYPE_CHECKING:
    from glassbox.analysis.protocols import Concepts

# Longest side of the heat map a region box is measured on.
_BOX_RESOLUTION = 112

CamGrid = list[list[float]]


@dataclass(frozen=True)
class ConceptScore:
    id: int
    name: str
    prob: float


@dataclass(frozen=True)
class TagEvidence:
    concept_id: int
    name: str
    wnid: str
    score: float  # softmax probability
    cam: CamGrid  # the raw 7x7 class activation map
    box: Box | None  # (x0, y0, x1, y1) fractions; None when explanations are off
    justification: str
    path: list[str] = field(default_factory=list)  # broader names above it: ["animal", "dog"]
    # the leaves that carry the tag, as {"concept_id", "name", "score"}; itself for a leaf
    contributing_concepts: list[dict] = field(default_factory=list)
    # re-scored evidence (glassbox.explain.faithfulness): {"before", "after"} when the region was
    # masked, plus {"deletion_auc", "insertion_auc", "random_deletion_auc",
    # "random_insertion_auc"} on measured items; None when off or without a region
    faithfulness: dict | None = None
    # the object detector's boxes for this concept: [{"box", "score"}], best first; with
    # ``source`` "detector" (no classifier evidence: ``cam`` is the boxes' map) or "both"
    detections: list[dict] = field(default_factory=list)
    source: str = "classifier"


def leaf_tag(cid: int, prob: float, grid: np.ndarray, bank: Concepts) -> TagEvidence:
    """A leaf concept's tag, without region or justification yet."""
    return TagEvidence(
        cid,
        bank.names[cid],
        bank.wnids[cid],
        prob,
        grid.tolist(),
        None,
        "",
        path=[bank.names[i] for i in bank.path(cid)],
        contributing_concepts=[{"concept_id": cid, "name": bank.names[cid], "score": prob}],
    )


def group_tag(
    in_cams: np.ndarray, probs: np.ndarray, cam_of: dict[int, np.ndarray], bank: Concepts
) -> tuple[TagEvidence, np.ndarray] | None:
    """The broader tag ("dog") when the probability is spread over its leaves (breeds at
    28%, 26%, 16%), chosen by the same level rule as the caption, with the grid its region
    is measured on. Its score is the broader concept's probability, its CAM the
    probability-weighted mix of its leaves' CAMs. No region or justification yet."""
    choice = main_concept(in_cams, bank)
    if choice is None or bank.is_leaf(choice[0]):
        return None
    cid, leaves = choice
    leaves = [int(c) for c in leaves if c in cam_of and in_cams[c] > 0]
    if not leaves:
        return None
    score = float(bank.broader_probs(probs)[cid - bank.n_leaves])
    weights = in_cams[leaves] / in_cams[leaves].sum()
    grid = np.tensordot(weights, np.stack([cam_of[c] for c in leaves]), axes=1)
    carried = sorted(((c, float(probs[c])) for c in leaves), key=lambda cp: -cp[1])
    tag = TagEvidence(
        cid,
        bank.names[cid],
        bank.wnids[cid],
        score,
        grid.astype(np.float32).tolist(),
        None,
        "",
        path=[bank.names[i] for i in bank.path(cid)],
        contributing_concepts=[
            {"concept_id": c, "name": bank.names[c], "score": p} for c, p in carried
        ],
    )
    return tag, grid


def region(grid: np.ndarray, aspect: tuple[int, int]) -> Box:
    """The region a CAM outlines, measured at the image's aspect ratio ``(height, width)``."""
    return cam.region_box(cam.upsample(grid, _box_grid(aspect)))


def justified(tag: TagEvidence, ranked: list[int], probs: np.ndarray, bank: Concepts) -> str:
    """A tag's one-line justification: a leaf names the runner-up among the ``ranked`` CAM
    classes, a broader tag the leaves that carry it."""
    if not bank.is_leaf(tag.concept_id):
        carried = [(c["name"], c["score"]) for c in tag.contributing_concepts]
        return group_justification(tag.name, tag.score, tag.box, carried)
    position = ranked.index(tag.concept_id)
    runner = ranked[position + 1] if position + 1 < len(ranked) else None
    return tag_justification(
        tag.name,
        tag.score,
        tag.box,
        bank.names[runner] if runner is not None else None,
        float(probs[runner]) if runner is not None else None,
    )


def with_faithfulness(
    tags: list[TagEvidence],
    image: np.ndarray,
    probs_of: Callable[[np.ndarray], np.ndarray],
    bank: Concepts,
    measured: bool,
    steps: int,
    intact_probs: np.ndarray,
) -> list[TagEvidence]:
    """Each tag with its evidence re-scored on the model's input ``image`` by ``probs_of``
    (images -> leaf probabilities): the region masked (one batch for all tags), and when
    ``measured`` the deletion / insertion curves of its CAM against a random order (one set of
    images for all tags: ``faithfulness.faithfulness_of_maps``). ``intact_probs`` are the
    intact image's probabilities, which the analysis already has: it is not scored again.
    The justification gains the counterfactual sentence."""
    # the detector's own tags have no classifier evidence to mask (analysis.objects re-detects)
    boxed = [t for t in tags if t.box is not None and t.source != "detector"]
    if not boxed:
        return tags
    leaves = [bank.leaves_of(t.concept_id) for t in boxed]

    def tag_scores(probs: np.ndarray) -> np.ndarray:
        """[n, 1000] leaf probabilities -> [n, tags]: each tag's leaves summed."""
        return np.stack([probs[:, ids].sum(axis=1) for ids in leaves], axis=1)

    masked = np.stack([faith.mask_region(image, tuple(t.box)) for t in boxed])
    probs = np.concatenate([np.asarray(intact_probs)[None], probs_of(masked)])
    scores = tag_scores(probs)
    result = {
        tag.concept_id: {"before": float(scores[0, k]), "after": float(scores[k + 1, k])}
        for k, tag in enumerate(boxed)
    }
    if measured:
        saliencies = [
            cam.upsample(np.asarray(t.cam, dtype=np.float32), image.shape[:2]) for t in boxed
        ]
        curves = faith.faithfulness_of_maps(
            image, saliencies, lambda b: tag_scores(probs_of(b)), steps=steps, intact=scores[0]
        )
        for tag, c in zip(boxed, curves, strict=True):
            result[tag.concept_id] |= {
                "deletion_auc": c.deletion.auc,
                "insertion_auc": c.insertion.auc,
                "random_deletion_auc": c.random_deletion.auc,
                "random_insertion_auc": c.random_insertion.auc,
            }
    return [
        replace(
            t,
            faithfulness=result[t.concept_id],
            justification=f"{t.justification} {counterfactual_sentence(result[t.concept_id])}",
        )
        if t.concept_id in result
        else t
        for t in tags
    ]


def sampled(data: bytes, share: float) -> bool:
    """Whether this file is in the measured share: decided by its hash, so a retried task
    decides the same way."""
    digest = hashlib.sha256(data).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def heatmap_for(
    cams: Sequence[CamGrid] | np.ndarray, weights: Sequence[float], size: tuple[int, int]
) -> bytes:
    """RGBA PNG of the weighted mix of CAMs at ``size`` = (height, width).

    With ConSE contributions as weights this is the query-conditioned "why this result" map.
    """
    mixed = cam.combine(np.asarray(cams, dtype=np.float32), weights)
    return cam.render_heatmap_png(cam.upsample(mixed, size))


def _box_grid(aspect: tuple[int, int]) -> tuple[int, int]:
    """A grid with the image's aspect ratio and ``_BOX_RESOLUTION`` on its longer side."""
    height, width = aspect
    scale = _BOX_RESOLUTION / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
