"""The object detector's steps: detect, measure colours, turn classes into tags with box
evidence (one hierarchy with the classifier's), and re-detect with each box masked.

- **detect** (``object_detection``, SSD-MobileNetV2 COCO): raw boxes to
  ``ObjectEvidence`` (``glassbox.detection.objects``: calibrated thresholds, no tiny boxes, one
  name per object, counts, positions, depth);
- **colours**: each class's best box measured in CIELAB (``glassbox.detection.colour``), a
  name only where it is clear, none on a greyscale or sepia image;
- **object tags**: each class maps to its WordNet concept of the bank
  (``glassbox.detection.wordnet``: "dog" -> dog.n.01, "person" -> person.n.01). When the
  classifier already tagged that concept (or a concept under it, such as "Eskimo dog" under
  "dog"), the tag gains the boxes as a second kind of evidence, and its justification says
  whether the classifier's region and the box agree; otherwise a new tag carries the boxes,
  with a map drawn from them;
- **object counterfactuals**: the best box of each object tag masked with the image's mean
  colour and the image detected again: "masking the box drops the score from 0.98 to 0.04".
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from glassbox.analysis.evidence import TagEvidence
from glassbox.analysis.state import ImageState
from glassbox.detection import colour as colours
from glassbox.detection.objects import ObjectEvidence, iou, object_evidence
from glassbox.explain import cam
from glassbox.explain.faithfulness import mask_boxes

AGREE_IOU = 0.3  # the classifier's region and the detector's box agree at this overlap
# Classes never called by a colour: a person's box holds clothes, skin and hair, and "a blue
# person" names none of them (the shares stay on the page as evidence).
UNCOLOURED = frozenset({"person"})


def detect(state: ImageState) -> None:
    found = state.client.detect_objects(state.evidence_image())
    state.objects = object_evidence(found, state.bank, size=(state.image.width, state.image.height))


def measure_colours(state: ImageState) -> None:
    pixels = np.asarray(state.image, dtype=np.uint8)
    tone = colours.image_tone(pixels)
    state.colours = {
        o.class_id: colours.region_colour(pixels, o.box, tone=tone, named=o.name not in UNCOLOURED)
        for o in state.objects
    }


def object_tags(state: ImageState) -> None:
    """Merge the detected classes into the tags (module docstring), at most
    ``max_object_tags`` of them, most confident first."""
    bank, grid_shape = state.bank, _grid_shape(state)
    tags = list(state.tags)
    added = 0
    for o in state.objects:
        if o.concept_id is None:
            continue
        boxes = [
            {"box": [round(float(v), 4) for v in b], "score": round(float(s), 4)}
            for b, s in zip(o.boxes, o.scores or (o.score,) * len(o.boxes), strict=False)
        ]
        hit = _classifier_tag(tags, int(o.concept_id), bank)
        if hit is not None:
            k, tag = hit
            tags[k] = replace(
                tag,
                detections=boxes,
                source="both",
                justification=f"{tag.justification} {_agreement(tag, o)}".strip(),
            )
            continue
        if added >= state.settings.max_object_tags:
            continue
        grid = np.minimum(np.sum([cam.box_grid(b, grid_shape) for b in o.boxes], axis=0), 1.0)
        colour = state.colours.get(o.class_id)
        said = o.justification + (
            f" Colour: {colour.text}{' of the box' if colour.basis != 'accent' else ''}."
            if colour and colour.name
            else ""
        )
        tags.append(
            TagEvidence(
                concept_id=int(o.concept_id),
                name=o.name,
                wnid=str(bank.wnids[int(o.concept_id)]),
                score=float(o.score),
                cam=grid.tolist(),
                box=tuple(float(v) for v in o.box),
                justification=said,
                path=[bank.names[i] for i in bank.path(int(o.concept_id))],
                contributing_concepts=[],
                detections=boxes,
                source="detector",
            )
        )
        state.cam_of[int(o.concept_id)] = np.asarray(grid, dtype=np.float32)
        added += 1
    state.tags = sorted(tags, key=lambda t: t.score, reverse=True)


def counterfactuals(state: ImageState) -> None:
    """Each object tag's best box masked and the image detected again (up to
    ``settings.object_counterfactuals`` tags, their masked copies in one request)."""
    image = state.evidence_image()
    chosen = [
        k for k, tag in enumerate(state.tags) if tag.source != "classifier" and tag.detections
    ][: max(state.settings.object_counterfactuals, 0)]
    if not chosen:
        return
    masked = [mask_boxes(image, [state.tags[k].detections[0]["box"]]) for k in chosen]
    found = state.client.detect_objects_many(masked)
    updated = list(state.tags)
    for k, again in zip(chosen, found, strict=True):
        tag = state.tags[k]
        best = tag.detections[0]
        after = max(
            (float(d.score) for d in again if _same_object(d, tag, best["box"], state)),
            default=0.0,
        )
        faith = dict(tag.faithfulness or {})
        faith["detector"] = {"before": best["score"], "after": round(after, 4)}
        if tag.source == "detector":
            faith.setdefault("before", best["score"])
            faith.setdefault("after", round(after, 4))
        said = (
            f"Masking the box drops the detector's score from {best['score']:.0%} to {after:.0%}."
            if after < best["score"]
            else f"Masking the box leaves the detector's score at {after:.0%}."
        )
        updated[k] = replace(
            tag, faithfulness=faith, justification=f"{tag.justification} {said}".strip()
        )
    state.tags = updated


def _same_object(d, tag: TagEvidence, box, state: ImageState) -> bool:
    from glassbox.detection.wordnet import concept_for

    return (
        concept_for(int(d.class_id), state.bank) == tag.concept_id
        and iou(tuple(d.box), tuple(box)) > 0.3
    )


def _classifier_tag(
    tags: list[TagEvidence], concept_id: int, bank
) -> tuple[int, TagEvidence] | None:
    """The classifier's tag of ``concept_id``, or of a concept under it ("Eskimo dog" under
    "dog"): the same thing, seen by both models."""
    for k, tag in enumerate(tags):
        if tag.source != "classifier":
            continue
        if tag.concept_id == concept_id or concept_id in bank.ancestors(int(tag.concept_id)):
            return k, tag
    return None


def _agreement(tag: TagEvidence, o: ObjectEvidence) -> str:
    seen = f"The object detector finds {o.name} too ({o.score:.0%})"
    if tag.box is None:
        return seen + "."
    overlap = iou(tuple(tag.box), tuple(o.box))
    if overlap >= AGREE_IOU:
        return seen + f", where the heat map is (overlap {overlap:.0%})."
    return (
        seen + f", but not where the heat map is (overlap {overlap:.0%}): the box shows where"
        " the detector sees it."
    )


def _grid_shape(state: ImageState) -> tuple[int, int]:
    return next(iter(state.cam_of.values())).shape if state.cam_of else (7, 7)


def object_phrases(state: ImageState) -> list[tuple[str, list[list[float]], float]]:
    """The object phrases that join the semantic vector and the lexical channel as exact
    terms: each class's name (with its count or clear colour), its boxes and its score."""
    out = []
    for o in state.objects:
        colour = state.colours.get(o.class_id)
        if o.count > 1:
            from glassbox.detection.english import count_phrase

            text = count_phrase(o.name, o.count)
        elif colour is not None and colour.name:
            text = f"{colour.name} {o.name}"
        else:
            text = o.name
        out.append((text, [list(map(float, b)) for b in o.boxes], float(o.score)))
    return out
