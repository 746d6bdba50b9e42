"""The moderation step: the policies (``glassbox.moderation``) applied to what the models saw,
each hit with its evidence, its rule in words and a counterfactual.

- **observe**: the nudity detector's stored detections, each detected object's boxes, the
  read lines, and each concept a policy names: its probability (a broader concept's is the
  sum over its leaves) and the region its CAM outlines (the CAM is the tag's, or the
  probability-weighted mix of its leaves' CAMs, as for a broader tag);
- **flag**: every policy whose score reaches ``flag_at`` is a hit; a concept in its evidence
  gets its map in ``Analysis.cams`` when no tag or ConSE concept brought it;
- **counterfactual**, for the hits only (flags are rare, so an item with none costs no
  model call): the evidence regions masked with the image's mean colour, and every model
  the policy reads asked again — the classifier (on the model input, every hit's masked
  copy in one batch), the nudity detector, the object detector and the OCR model (on the
  evidence image, one call per hit) — and the policy scored again on what they answer:
  "masking these 2 regions drops the score from 0.93 to 0.00".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from glassbox.analysis import evidence
from glassbox.analysis.state import ImageState
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.detection.objects import object_evidence
from glassbox.explain import faithfulness as faith
from glassbox.moderation.flags import (
    ConceptSeen,
    FlagHit,
    Observation,
    Seen,
    evaluate,
    score_policy,
)
from glassbox.moderation.policies import Policy, concept_ids
from glassbox.retrieval.conse import softmax

# leaves named beside a broader concept in its rule ("dog 0.87 (Eskimo dog 0.28, ...)")
_CARRIED = 3


def flag(state: ImageState) -> None:
    """The hits of ``state.policies``, with their counterfactuals, into ``state.flags``."""
    seen = observe(state)
    hits = evaluate(state.policies, seen, state.bank)
    if not hits:
        state.flags = []
        return
    state.flags = counterfactuals(state, hits, seen)
    for hit in state.flags:
        for e in hit.evidence:
            if e.concept is not None and e.concept not in state.cams:
                grid = _grid(state, e.concept)
                if grid is not None:
                    state.cams[e.concept] = grid.tolist()


def observe(state: ImageState) -> Observation:
    """What the policies read, from the state the earlier steps filled in."""
    objects = [
        Seen(COCO_LABELS.get(o.class_id, o.name), tuple(box), float(score))
        for o in state.objects
        for box, score in zip(o.boxes, o.scores or (o.score,) * len(o.boxes), strict=False)
    ]
    concepts = {
        cid: _concept(state, cid, state.probs, with_region=True, flag_at=flag_at)
        for cid, flag_at in _wanted_concepts(state.policies, state).items()
    }
    return Observation(
        nudity=[Seen(d.label, tuple(d.box), float(d.score)) for d in state.nsfw],
        objects=objects,
        text=[_line(line) for line in state.text_lines],
        concepts=concepts,
    )


def counterfactuals(
    state: ImageState, hits: Sequence[FlagHit], before: Observation
) -> list[FlagHit]:
    """Each hit with its evidence masked and its policy scored again on what the models
    answer; ``before`` is what ``observe`` saw, which a kind whose model is off keeps."""
    settings = state.settings
    image = state.evidence_image()
    model_input = state.batch[0]
    regions = [hit.regions() for hit in hits]
    out: list[FlagHit | None] = [None] * len(hits)
    for k, hit in enumerate(hits):
        if not regions[k]:
            out[k] = hit.with_counterfactual(None, 0, "the evidence has no region to mask")
        elif (
            "text" in {e.kind for e in hit.evidence} and not settings.ocr
        ):  # lines given with the upload, and no OCR to read the masked image
            out[k] = hit.with_counterfactual(
                None, 0, "the read lines came with the upload and OCR is off"
            )
    todo = [k for k in range(len(hits)) if out[k] is None]
    # the classifier: every masked copy in one batch
    concept_probs: dict[int, np.ndarray] = {}
    readers = [k for k in todo if "concept" in hits[k].policy.kinds]
    if readers:
        batch = np.stack([faith.mask_boxes(model_input, regions[k]) for k in readers])
        probs = softmax(state.client.analyze_images(batch).logits)
        concept_probs = {k: probs[j] for j, k in enumerate(readers)}
    for k in todo:
        hit, policy = hits[k], hits[k].policy
        masked = faith.mask_boxes(image, regions[k])
        seen = before
        if k in concept_probs:
            seen = replace(seen, concepts=_rescored_concepts(state, policy, concept_probs[k]))
        if "nudity" in policy.kinds and settings.nsfw:
            found = state.client.detect_nsfw(masked)
            seen = replace(
                seen,
                nudity=[
                    Seen(d.label, tuple(d.box), float(d.score))
                    for d in found
                    if d.score >= settings.nsfw_threshold
                ],
            )
        if "object" in policy.kinds and settings.objects:
            found = object_evidence(
                state.client.detect_objects(masked),
                state.bank,
                size=(state.image.width, state.image.height),
            )
            seen = replace(
                seen,
                objects=[
                    Seen(COCO_LABELS.get(o.class_id, o.name), tuple(b), float(s))
                    for o in found
                    for b, s in zip(o.boxes, o.scores or (o.score,) * len(o.boxes), strict=False)
                ],
            )
        if "text" in policy.kinds and settings.ocr:
            seen = replace(seen, text=[_line(line) for line in state.client.read_text(masked)])
        after = score_policy(policy, seen, state.bank).score
        out[k] = hit.with_counterfactual(after, len(regions[k]))
    return [h for h in out if h is not None]


def _wanted_concepts(policies: Sequence[Policy], state: ImageState) -> dict[int, float]:
    """Each concept the policies read, with the lowest ``flag_at`` of those reading it."""
    wanted: dict[int, float] = {}
    for policy in policies:
        for signal in policy.signals:
            if signal.kind != "concept":
                continue
            for cid in concept_ids(signal, state.bank):
                wanted[cid] = min(wanted.get(cid, 1.0), policy.flag_at)
    return wanted


def _concept(
    state: ImageState, cid: int, probs: np.ndarray, with_region: bool, flag_at: float = 0.0
) -> ConceptSeen:
    bank = state.bank
    leaves = bank.leaves_of(cid)
    score = float(np.asarray(probs, dtype=np.float64)[leaves].sum())
    box = None
    if with_region and score >= flag_at:
        grid = _grid(state, cid)
        if grid is not None and float(np.max(grid)) > 0:
            box = tuple(float(v) for v in evidence.region(grid, state.aspect))
    carried: tuple[tuple[str, float], ...] = ()
    if not bank.is_leaf(cid):
        best = sorted(((float(probs[c]), int(c)) for c in leaves), reverse=True)[:_CARRIED]
        carried = tuple((str(bank.names[c]), p) for p, c in best if p >= 0.005)
    return ConceptSeen(cid, str(bank.names[cid]), score, box, carried)


def _rescored_concepts(
    state: ImageState, policy: Policy, probs: np.ndarray
) -> dict[int, ConceptSeen]:
    ids = [c for s in policy.signals if s.kind == "concept" for c in concept_ids(s, state.bank)]
    return {cid: _concept(state, cid, probs, with_region=False) for cid in dict.fromkeys(ids)}


def _grid(state: ImageState, cid: int) -> np.ndarray | None:
    """The concept's CAM: its own (a tag, a ConSE concept) or the probability-weighted mix
    of the CAMs of its leaves among the model's mapped classes; None when none is mapped."""
    if cid in state.cam_of:
        return np.asarray(state.cam_of[cid], dtype=np.float32)
    members = set(int(c) for c in state.bank.leaves_of(cid))
    leaves = [c for c in state.cam_ids if c in members]
    if not leaves:
        return None
    weights = state.probs[leaves]
    if float(weights.sum()) <= 0:
        return None
    stacked = np.stack([state.cam_of[c] for c in leaves])
    return np.tensordot(weights / weights.sum(), stacked, axes=1).astype(np.float32)


def _line(line) -> Seen:
    text, box, score = (line.text, line.box, line.score) if hasattr(line, "text") else line
    return Seen(str(text), tuple(float(v) for v in box), float(score))
