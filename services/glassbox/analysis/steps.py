"""The analysis steps, in the order they run (``STEPS``). Each fills in its part of the
``ImageState``; a new model is one new step.

The model returns class activation maps for its 16 highest-scoring classes. Tags and the
semantic (ConSE) vector are both drawn from those 16, so every concept that contributes to a
tag or to a search score has a CAM to show for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from glassbox.analysis import evidence
from glassbox.analysis import flags as moderation
from glassbox.analysis import objects as detected
from glassbox.analysis.evidence import ConceptScore
from glassbox.analysis.state import ImageState, Step
from glassbox.explain import cam
from glassbox.explain.caption import Caption, OcrLine, compose_caption
from glassbox.explain.justify import select_tags
from glassbox.explain.object_caption import compose_object_caption
from glassbox.explain.regions import union_box
from glassbox.media.imaging import decode_rgb, inspect_upload, model_input
from glassbox.retrieval.conse import semantic_vector, softmax

if TYPE_CHECKING:
    from glassbox.analysis.protocols import ConceptModel
    from glassbox.config import Settings

# Most read lines that join an image's semantic vector.
_MAX_TEXT_TERMS = 8


def decode(state: ImageState) -> None:
    """Validate the upload (``InvalidMedia`` before any model is called) and decode it."""
    inspect_upload(state.data, state.settings)
    state.image = decode_rgb(state.data)
    state.batch = model_input(state.image, state.settings.image_size)[np.newaxis]


def concepts(state: ImageState) -> None:
    state.output = state.client.analyze_images(state.batch)


def read_text(state: ImageState) -> None:
    state.text_lines = list(state.client.read_text(state.evidence_image()))


def nudity_detector(state: ImageState) -> None:
    found = state.client.detect_nsfw(state.evidence_image())
    state.nsfw = [d for d in found if d.score >= state.settings.nsfw_threshold]


def scores(state: ImageState) -> None:
    """Leaf probabilities, restricted to the CAM classes for tags and ConSE; on exact ties
    the model's order wins."""
    out = state.output
    probs = state.probs = softmax(out.logits[0])
    cam_ids = state.cam_ids = [int(i) for i in out.cam_indices[0]]
    state.cam_of = {c: np.asarray(out.cams[0][k], dtype=np.float32) for k, c in enumerate(cam_ids)}
    state.ranked = sorted(cam_ids, key=lambda cid: probs[cid], reverse=True)
    state.in_cams = np.zeros_like(probs)
    state.in_cams[cam_ids] = probs[cam_ids]
    names = state.bank.names
    state.concepts = [ConceptScore(cid, names[cid], float(probs[cid])) for cid in state.ranked]


def caption(state: ImageState) -> None:
    """From the detected objects when there are any (counts, colours, layout), else from the
    classifier's maps."""
    from_objects = compose_object_caption(state.objects, state.colours, state.text_lines)
    if from_objects is not None:
        state.caption = from_objects
        return
    state.caption = compose_caption(
        {cid: float(state.probs[cid]) for cid in state.cam_ids},
        state.bank,
        {cid: state.cam_of[cid] for cid in state.cam_ids},
        state.text_lines,
        aspect=state.aspect,
    )


def text_terms(state: ImageState) -> None:
    state.text_terms = _text_terms(
        state.client,
        state.text_lines,
        state.caption,
        state.settings,
        detected.object_phrases(state),
    )


def semantic(state: ImageState) -> None:
    """The ConSE vector over the CAM classes, the broader concepts and the text terms; each
    broader concept in it gets its leaves' CAMs, mixed."""
    bank, settings, probs, terms = state.bank, state.settings, state.probs, state.text_terms
    top = min(settings.conse_top, len(state.cam_ids))
    # Broader concepts: probability from every leaf, but only those with a leaf among the
    # CAM classes can join, so that each one has a heat map.
    broader = bank.broader_probs(probs)
    broader[~bank.members[:, state.cam_ids].any(axis=1)] = 0.0
    state.semantic = semantic_vector(
        state.in_cams,
        bank.embeddings,
        top,
        broader,
        settings.conse_broader_top,
        settings.conse_broader_weight,
        texts=np.array([t["embedding"] for t in terms]).reshape(len(terms), -1) if terms else None,
        text_mass=np.array([t["mass"] for t in terms]),
    )
    for cid in state.semantic.concept_ids[top:]:
        leaves = [c for c in state.cam_ids if bank.members[cid - bank.n_leaves, c]]
        state.cam_of[int(cid)] = np.tensordot(
            probs[leaves] / probs[leaves].sum(), np.stack([state.cam_of[c] for c in leaves]), axes=1
        ).astype(np.float32)


def tags(state: ImageState) -> None:
    """The confident CAM classes, and the broader tag their probability is spread over."""
    settings, cam_of = state.settings, state.cam_of
    most = min(settings.max_tags, len(state.cam_ids))
    picked = select_tags(state.in_cams, settings.tag_threshold, most)
    state.tags = [evidence.leaf_tag(cid, prob, cam_of[cid], state.bank) for cid, prob in picked]
    state.tag_grids = {cid: cam_of[cid] for cid, _ in picked}
    group = evidence.group_tag(state.in_cams, state.probs, cam_of, state.bank)
    if group is not None:
        tag, grid = group
        state.tag_grids[tag.concept_id] = grid
        state.tags = sorted([tag, *state.tags], key=lambda t: t.score, reverse=True)
        state.tags = state.tags[: settings.max_tags]
        cam_of[tag.concept_id] = np.asarray(tag.cam, dtype=np.float32)


def regions(state: ImageState) -> None:
    state.tags = [
        replace(t, box=evidence.region(state.tag_grids[t.concept_id], state.aspect))
        for t in state.tags
    ]


def justifications(state: ImageState) -> None:
    state.tags = [
        replace(t, justification=evidence.justified(t, state.ranked, state.probs, state.bank))
        for t in state.tags
    ]


def faithfulness(state: ImageState) -> None:
    """Each tag's region masked and re-scored (and, on measured items, its CAM's deletion
    and insertion curves)."""
    settings = state.settings
    measured = settings.faithfulness == "always" or evidence.sampled(
        state.data, settings.faithfulness_sample
    )
    state.tags = evidence.with_faithfulness(
        state.tags,
        state.batch[0],
        lambda batch: softmax(state.client.analyze_images(batch).logits),
        state.bank,
        measured,
        settings.faithfulness_steps,
        intact_probs=state.probs,
    )


def heat_maps(state: ImageState) -> None:
    """The CAM of every tag and ConSE concept; for each text term, the map of its boxes."""
    wanted = [t.concept_id for t in state.tags] + [int(i) for i in state.semantic.concept_ids]
    state.cams = {cid: state.cam_of[cid].tolist() for cid in dict.fromkeys(wanted)}
    grid_shape = next(iter(state.cam_of.values())).shape
    for j, term in enumerate(state.text_terms):
        grids = [cam.box_grid(box, grid_shape) for box in term["boxes"]]
        state.cams[f"t{j}"] = np.minimum(np.sum(grids, axis=0), 1.0).tolist()


STEPS: tuple[Step, ...] = (
    Step("decode", "decode", decode),
    Step("concepts", "infer", concepts),
    Step("read text", "read", read_text, lambda s: s.settings.ocr and not s.text_given),
    Step("nudity detector", "read", nudity_detector, lambda s: s.settings.nsfw),
    Step("objects", "detect", detected.detect, lambda s: s.settings.objects),
    Step("object colours", "detect", detected.measure_colours, lambda s: bool(s.objects)),
    Step("scores", "explain", scores),
    Step("caption", "explain", caption),
    Step("text terms", "explain", text_terms),
    Step("semantic vector", "explain", semantic),
    Step("tags", "explain", tags),
    Step("regions", "explain", regions, lambda s: s.settings.explanations),
    Step("justifications", "explain", justifications),
    Step("object tags", "explain", detected.object_tags, lambda s: bool(s.objects)),
    Step("faithfulness", "explain", faithfulness, lambda s: s.settings.faithfulness != "off"),
    Step(
        "object counterfactuals",
        "detect",
        detected.counterfactuals,
        lambda s: bool(s.objects) and s.settings.object_counterfactuals > 0,
    ),
    Step("heat maps", "explain", heat_maps),
)

# The moderation policies over the finished analysis (glassbox.analysis.flags), after STEPS:
# evidence from every step above, and counterfactuals for the hits only.
MODERATION = Step("moderation", "explain", moderation.flag, lambda s: bool(s.policies))


def _text_terms(
    client: ConceptModel,
    lines: Sequence[OcrLine],
    caption: Caption,
    settings: Settings,
    objects: Sequence[tuple[str, list[list[float]], float]] = (),
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
    for text, boxes, score in objects[:_MAX_TEXT_TERMS] if settings.object_text_weight > 0 else ():
        kept.append(
            {
                "kind": "object",
                "text": text,
                "box": list(union_box(boxes)),
                "boxes": boxes,
                "score": score,
                "mass": settings.object_text_weight * score,
            }
        )
    boxes = [list(b) for p in caption.phrases for b in p.evidence.boxes]
    if boxes and settings.caption_weight > 0:
        kept.append(
            {
                "kind": "caption",
                "text": caption.text,
                "box": list(union_box(boxes)),
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
