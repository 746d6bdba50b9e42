"""One item's analysis: validate, decode, run the concept model, explain.

The model returns class activation maps for its 16 highest-scoring classes. Tags and the
semantic (ConSE) vector are both drawn from those 16, so every concept that contributes to a
tag or to a search score has a CAM to show for it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from glassbox import cam
from glassbox import faithfulness as faith
from glassbox.cam import Box
from glassbox.caption import Caption, OcrLine, compose_caption, main_concept
from glassbox.conse import SemanticVector, semantic_vector, softmax
from glassbox.explain import (
    counterfactual_sentence,
    group_justification,
    select_tags,
    tag_justification,
)
from glassbox.imaging import decode_rgb, inspect_upload, model_input

if TYPE_CHECKING:
    from glassbox.config import Settings
    from glassbox.evidence_types import Detection, TextLine
    from glassbox.inference import ConceptOutput

# Longest side of the heat map a region box is measured on.
_BOX_RESOLUTION = 112
# Most read lines that join an image's semantic vector.
_MAX_TEXT_TERMS = 8

CamGrid = list[list[float]]


class ConceptModel(Protocol):
    """What the pipeline needs from Triton (``glassbox.inference.InferenceClient``)."""

    def analyze_images(self, batch: np.ndarray) -> ConceptOutput: ...

    def read_text(self, image: np.ndarray) -> list[TextLine]: ...  # when settings.ocr

    def detect_nsfw(self, image: np.ndarray) -> list[Detection]: ...  # when settings.nsfw

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
    # re-scored evidence (glassbox.faithfulness): {"before", "after"} when the region was
    # masked, plus {"deletion_auc", "insertion_auc", "random_deletion_auc",
    # "random_insertion_auc"} on measured items; None when off or without a region
    faithfulness: dict | None = None


@dataclass(frozen=True)
class Analysis:
    width: int
    height: int
    concepts: list[ConceptScore]  # the model's top 16, by descending probability
    tags: list[TagEvidence]
    semantic: SemanticVector
    cams: dict[int, CamGrid]  # concept id -> 7x7 CAM, for every tag and ConSE concept
    appearance: list[float]  # pooled backbone features
    timings: dict[str, float] = field(default_factory=dict)  # decode, infer, explain (ms)
    caption: Caption = field(default_factory=Caption)  # grounded caption (glassbox.caption)
    text_lines: list[TextLine] = field(default_factory=list)  # OCR, boxes as fractions
    # the read lines that joined the semantic vector: {"text", "box", "score", "embedding"},
    # in the order of semantic.text_weights; their heat maps are cams["t<index>"]
    text_terms: list[dict] = field(default_factory=list)
    nsfw: list[Detection] = field(default_factory=list)  # at or above settings.nsfw_threshold


def analyze(
    data: bytes,
    client: ConceptModel,
    bank: Concepts,
    settings: Settings,
    text_lines: Sequence[OcrLine] | None = None,
) -> Analysis:
    """Analyse one image upload. Raises ``InvalidMedia`` or the client's ``InferenceFailure``.

    ``text_lines`` are OCR lines ``(text, box, score)`` (box in fractions of width and height);
    by default they are read with the client's ``ocr`` model when ``settings.ocr`` is on.
    """
    started = time.perf_counter()
    inspect_upload(data, settings)
    image = decode_rgb(data)
    batch = model_input(image, settings.image_size)[np.newaxis]
    decoded = time.perf_counter()

    out = client.analyze_images(batch)
    inferred = time.perf_counter()
    if text_lines is None:
        text_lines = client.read_text(_shrunk(image, settings.ocr_max_side)) if settings.ocr else []
    text_lines = list(text_lines)
    nsfw = []
    if settings.nsfw:
        found = client.detect_nsfw(_shrunk(image, settings.ocr_max_side))
        nsfw = [d for d in found if d.score >= settings.nsfw_threshold]
    read = time.perf_counter()

    probs = softmax(out.logits[0])
    cam_ids = [int(i) for i in out.cam_indices[0]]
    cam_of = {cid: np.asarray(out.cams[0][k], dtype=np.float32) for k, cid in enumerate(cam_ids)}
    ranked = sorted(cam_ids, key=lambda cid: probs[cid], reverse=True)
    aspect = (image.height, image.width)
    caption = compose_caption(
        {cid: float(probs[cid]) for cid in cam_ids},
        bank,
        {cid: cam_of[cid] for cid in cam_ids},
        text_lines,
        aspect=aspect,
    )
    text_terms = _text_terms(client, text_lines, caption, settings)

    # Restrict both tags and ConSE to the CAM classes; on exact ties the model's order wins.
    in_cams = np.zeros_like(probs)
    in_cams[cam_ids] = probs[cam_ids]
    top = min(settings.conse_top, len(cam_ids))
    # Broader concepts: probability from every leaf, but only those with a leaf among the
    # CAM classes can join, so that each one has a heat map (its leaves' CAMs, mixed).
    broader = bank.broader_probs(probs)
    broader[~bank.members[:, cam_ids].any(axis=1)] = 0.0
    semantic = semantic_vector(
        in_cams,
        bank.embeddings,
        top,
        broader,
        settings.conse_broader_top,
        settings.conse_broader_weight,
        texts=np.array([t["embedding"] for t in text_terms]).reshape(len(text_terms), -1)
        if text_terms
        else None,
        text_mass=np.array([t["mass"] for t in text_terms]),
    )
    for cid in semantic.concept_ids[top:]:
        leaves = [c for c in cam_ids if bank.members[cid - bank.n_leaves, c]]
        cam_of[int(cid)] = np.tensordot(
            probs[leaves] / probs[leaves].sum(), np.stack([cam_of[c] for c in leaves]), axes=1
        ).astype(np.float32)

    tags = [
        _tag_evidence(cid, prob, cam_of[cid], ranked, probs, bank, aspect, settings.explanations)
        for cid, prob in select_tags(
            in_cams, settings.tag_threshold, min(settings.max_tags, len(cam_ids))
        )
    ]
    group = _group_tag(in_cams, probs, cam_of, bank, aspect, settings.explanations)
    if group is not None:
        tags = sorted([group, *tags], key=lambda t: t.score, reverse=True)[: settings.max_tags]
        cam_of[group.concept_id] = np.asarray(group.cam, dtype=np.float32)
    tags = _with_faithfulness(tags, batch[0], client, bank, data, settings)
    wanted = [t.concept_id for t in tags] + [int(i) for i in semantic.concept_ids]
    cams: dict[int | str, CamGrid] = {cid: cam_of[cid].tolist() for cid in dict.fromkeys(wanted)}
    grid_shape = next(iter(cam_of.values())).shape
    for j, term in enumerate(text_terms):
        grids = [cam.box_grid(box, grid_shape) for box in term["boxes"]]
        cams[f"t{j}"] = np.minimum(np.sum(grids, axis=0), 1.0).tolist()
    concepts = [ConceptScore(cid, bank.names[cid], float(probs[cid])) for cid in ranked]
    explained = time.perf_counter()

    return Analysis(
        width=image.width,
        height=image.height,
        concepts=concepts,
        tags=tags,
        semantic=semantic,
        cams=cams,
        appearance=np.asarray(out.pooled[0], dtype=np.float32).tolist(),
        timings={
            "decode": _ms(started, decoded),
            "infer": _ms(decoded, inferred),
            "read": _ms(inferred, read),
            "explain": _ms(read, explained),
        },
        caption=caption,
        text_lines=text_lines,
        text_terms=text_terms,
        nsfw=nsfw,
    )


def _with_faithfulness(
    tags: list[TagEvidence],
    image: np.ndarray,
    client: ConceptModel,
    bank: Concepts,
    data: bytes,
    settings: Settings,
) -> list[TagEvidence]:
    """Each tag with its evidence re-scored on the model's input ``image``: the region masked
    (one batch for all tags), and on measured items the deletion / insertion curves of its
    CAM against a random order. The justification gains the counterfactual sentence."""
    mode = settings.faithfulness
    boxed = [t for t in tags if t.box is not None]
    if mode == "off" or not boxed:
        return tags
    measured = mode == "always" or _sampled(data, settings.faithfulness_sample)

    def probs_of(batch: np.ndarray) -> np.ndarray:
        out = client.analyze_images(batch)
        return softmax(out.logits)

    def tag_prob(tag: TagEvidence, probs: np.ndarray) -> np.ndarray:
        leaves = bank.leaves_of(tag.concept_id)
        return probs[:, leaves].sum(axis=1)

    masked = np.stack([faith.mask_region(image, tuple(t.box)) for t in boxed])
    probs = probs_of(np.concatenate([image[None], masked]))
    result = {}
    for k, tag in enumerate(boxed):
        scores = tag_prob(tag, probs)
        entry = {"before": float(scores[0]), "after": float(scores[k + 1])}
        if measured:
            saliency = cam.upsample(np.asarray(tag.cam, dtype=np.float32), image.shape[:2])
            curves = faith.faithfulness(
                image,
                saliency,
                lambda b, t=tag: tag_prob(t, probs_of(b)),
                steps=settings.faithfulness_steps,
            )
            entry |= {
                "deletion_auc": curves.deletion.auc,
                "insertion_auc": curves.insertion.auc,
                "random_deletion_auc": curves.random_deletion.auc,
                "random_insertion_auc": curves.random_insertion.auc,
            }
        result[tag.concept_id] = entry
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


def _sampled(data: bytes, share: float) -> bool:
    """Whether this file is in the measured share: decided by its hash, so a retried task
    decides the same way."""
    digest = hashlib.sha256(data).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _shrunk(image, max_side: int) -> np.ndarray:
    """The image as RGB uint8, its longest side at most ``max_side`` (boxes come back as
    fractions, so they fit the original)."""
    scale = max_side / max(image.width, image.height)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size)
    return np.asarray(image, dtype=np.uint8)


def _text_terms(
    client: ConceptModel, lines: Sequence[OcrLine], caption: Caption, settings: Settings
) -> list[dict]:
    """Text that joins the semantic vector as its own terms, embedded in the text space:
    the confident, wordy read lines (``kind`` "ocr", mass ``ocr_text_weight`` × confidence)
    and the grounded caption (``kind`` "caption", mass ``caption_weight``), each with the
    boxes of its evidence."""
    kept = []
    for line in lines:
        text, box, score = (line.text, line.box, line.score) if hasattr(line, "text") else line
        if score >= settings.ocr_min_score and sum(ch.isalnum() for ch in text) >= 2:
            box = [float(v) for v in box]
            kept.append(
                {
                    "kind": "ocr",
                    "text": text,
                    "box": box,
                    "boxes": [box],
                    "score": float(score),
                    "mass": settings.ocr_text_weight * float(score),
                }
            )
    kept = kept[:_MAX_TEXT_TERMS]
    boxes = [list(b) for p in caption.phrases for b in p.evidence.boxes]
    if boxes and settings.caption_weight > 0:
        kept.append(
            {
                "kind": "caption",
                "text": caption.text,
                "box": list(cam.union_box(boxes)),
                "boxes": boxes,
                "score": 1.0,
                "mass": settings.caption_weight,
            }
        )
    if not kept:
        return []
    vectors = client.embed_texts([k["text"] for k in kept])
    for k, vector in zip(kept, vectors, strict=True):
        k["embedding"] = [float(v) for v in vector]
    return kept


def heatmap_for(
    cams: Sequence[CamGrid] | np.ndarray, weights: Sequence[float], size: tuple[int, int]
) -> bytes:
    """RGBA PNG of the weighted mix of CAMs at ``size`` = (height, width).

    With ConSE contributions as weights this is the query-conditioned "why this result" map.
    """
    mixed = cam.combine(np.asarray(cams, dtype=np.float32), weights)
    return cam.render_heatmap_png(cam.upsample(mixed, size))


def _tag_evidence(
    cid: int,
    prob: float,
    grid: np.ndarray,
    ranked: list[int],
    probs: np.ndarray,
    bank: Concepts,
    aspect: tuple[int, int],
    explanations: bool,
) -> TagEvidence:
    box = None
    if explanations:
        box = cam.region_box(cam.upsample(grid, _box_grid(aspect)))
    position = ranked.index(cid)
    runner = ranked[position + 1] if position + 1 < len(ranked) else None
    text = tag_justification(
        bank.names[cid],
        prob,
        box,
        bank.names[runner] if runner is not None else None,
        float(probs[runner]) if runner is not None else None,
    )
    return TagEvidence(
        cid,
        bank.names[cid],
        bank.wnids[cid],
        prob,
        grid.tolist(),
        box,
        text,
        path=[bank.names[i] for i in bank.path(cid)],
        contributing_concepts=[{"concept_id": cid, "name": bank.names[cid], "score": prob}],
    )


def _group_tag(
    in_cams: np.ndarray,
    probs: np.ndarray,
    cam_of: dict[int, np.ndarray],
    bank: Concepts,
    aspect: tuple[int, int],
    explanations: bool,
) -> TagEvidence | None:
    """The broader tag ("dog") when the probability is spread over its leaves (breeds at
    28%, 26%, 16%), chosen by the same level rule as the caption. Its score is the broader
    concept's probability, its CAM the probability-weighted mix of its leaves' CAMs."""
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
    box = cam.region_box(cam.upsample(grid, _box_grid(aspect))) if explanations else None
    carried = sorted(((c, float(probs[c])) for c in leaves), key=lambda cp: -cp[1])
    text = group_justification(
        bank.names[cid], score, box, [(bank.names[c], p) for c, p in carried]
    )
    return TagEvidence(
        cid,
        bank.names[cid],
        bank.wnids[cid],
        score,
        grid.astype(np.float32).tolist(),
        box,
        text,
        path=[bank.names[i] for i in bank.path(cid)],
        contributing_concepts=[
            {"concept_id": c, "name": bank.names[c], "score": p} for c, p in carried
        ],
    )


def _box_grid(aspect: tuple[int, int]) -> tuple[int, int]:
    """A grid with the image's aspect ratio and ``_BOX_RESOLUTION`` on its longer side."""
    height, width = aspect
    scale = _BOX_RESOLUTION / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3)
