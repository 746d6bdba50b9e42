"""Section 3, localisation: the pointing game on hand-drawn boxes (``eval_data/boxes.json``)
at 224, 320 and 448 px, against the image centre."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassbox.concepts import ConceptBank
from glassbox.evaluation.data import EVAL_DATA, read_photo
from glassbox.evaluation.models import BASE_SIZE, Models
from glassbox.evaluation.plan import Report
from glassbox.explain import cam
from glassbox.media.imaging import model_input
from glassbox.retrieval.conse import softmax

POINTING_SIZES = (224, 320, 448)
POINTING_TOLERANCE_PX = 15  # as in Zhang et al. 2016 ("Top-down neural attention")


@dataclass(frozen=True)
class Pointing:
    hits: int
    centre_hits: int
    total: int
    top1_agreement: float  # with BASE_SIZE, over the corpus
    grid: int
    details: list[str]


def concept_map(
    bank: ConceptBank, probs: np.ndarray, cams: np.ndarray, cam_ids: np.ndarray, concept: int
) -> np.ndarray:
    """A concept's CAM: a leaf's own; a broader concept's is the probability-weighted mix of
    its leaves among the model's top 16 (as ``pipeline.analyze``), or of all its leaves when
    none is among them."""
    if bank.is_leaf(concept):
        return cams[concept]
    leaves = bank.leaves_of(concept)
    shown = [c for c in leaves if c in set(cam_ids[:16].tolist())]
    chosen = np.array(shown if shown else leaves)
    weights = probs[chosen] / probs[chosen].sum()
    return cam.combine(cams[chosen], weights)


def best_concept(bank: ConceptBank, probs: np.ndarray, concepts: Sequence[int]) -> int:
    """The annotated concept the model scores highest (a broader one by aggregated probability)."""

    def prob(i: int) -> float:
        return float(probs[i]) if bank.is_leaf(i) else float(probs[bank.leaves_of(i)].sum())

    return max(concepts, key=prob)


def inside(point: tuple[float, float], box: Sequence[float], tolerance: float) -> bool:
    x, y = point
    x0, y0, x1, y1 = box
    return bool(x0 - tolerance <= x < x1 + tolerance and y0 - tolerance <= y < y1 + tolerance)


def pointing_at(models: Models, annotations: list[dict], corpus: Sequence[str], size: int):
    index = {w: i for i, w in enumerate(models.bank.wnids)}
    hits = centre = total = 0
    details: list[str] = []
    for item in annotations:
        photo = read_photo(item["file"])
        out = models.net.run(model_input(photo, size)[None])
        probs = softmax(out.logits[0])
        order = np.argsort(out.cam_indices[0])  # cams arrive by descending logit
        all_cams, cam_ids = out.cams[0][order], out.cam_indices[0]
        for obj in item["objects"]:
            concept = best_concept(models.bank, probs, [index[w] for w in obj["concepts"]])
            grid = concept_map(models.bank, probs, all_cams, cam_ids, concept)
            heat = cam.upsample(grid, (photo.height, photo.width))
            y, x = np.unravel_index(int(np.argmax(heat)), heat.shape)
            hit = inside((x + 0.5, y + 0.5), obj["box"], POINTING_TOLERANCE_PX)
            hits += hit
            centre += inside((photo.width / 2, photo.height / 2), obj["box"], 0)
            total += 1
            name = Path(item["file"]).name
            details.append(f"{name}: {obj['label']} via {models.bank.names[concept]} → {hit}")
    agreement = top1_agreement(models.net, corpus, size)
    return Pointing(hits, centre, total, agreement, grid.shape[0], details)


def top1_agreement(net: Any, corpus: Sequence[str], size: int) -> float:
    def top1(side: int) -> np.ndarray:
        batch = np.stack([model_input(read_photo(p), side) for p in corpus])
        return net.run(batch).logits.argmax(axis=1)

    return float((top1(size) == top1(BASE_SIZE)).mean())


def section_localisation(
    models: Models, corpus: Sequence[str], out: Path, report: Report
) -> dict[int, Pointing]:
    annotations = json.loads((EVAL_DATA / "boxes.json").read_text())["images"]
    started = time.perf_counter()
    by_size = {s: pointing_at(models, annotations, corpus, s) for s in POINTING_SIZES}
    report.timings_s["localisation"] = time.perf_counter() - started
    base = by_size[BASE_SIZE]
    report.results["localisation"] = {
        str(s): {
            "hits": p.hits,
            "total": p.total,
            "centre_hits": p.centre_hits,
            "top1_agreement_with_224": p.top1_agreement,
            "cam_grid": p.grid,
        }
        for s, p in by_size.items()
    }
    report.markdown += [
        "## 3. Localisation (pointing game)",
        "",
        "Annotations: `services/glassbox/evaluation/eval_data/boxes.json`,"
        f" {base.total} objects in {len(annotations)} photos, boxes drawn by hand while looking"
        " at each photo. A hit:"
        " the maximum of the annotated concept's CAM, upsampled to the original image size,"
        f" lies inside the box grown by {POINTING_TOLERANCE_PX} px on each side. With several"
        " annotated concepts, the one the model scores highest is used; a broader concept"
        " (dog, butterfly, building) uses the probability-weighted mix of its leaves' CAMs, as"
        " the tags do. Baseline: the image centre, strictly inside the box.",
        "",
        "Running above 224 px (the network is fully convolutional; the whole image is squashed"
        " to a square at each size). Top-1 agreement is with the 224 px prediction, over the"
        f" {len(corpus)} photos of the retrieval corpus.",
        "",
        "| input size | CAM grid | pointing hits | centre baseline | top-1 agreement with 224 |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {p.grid}×{p.grid} | {p.hits}/{p.total} | {p.centre_hits}/{p.total} |"
            f" {p.top1_agreement:.0%} |"
            for s, p in by_size.items()
        ),
        "",
        "<details><summary>Per object (224 / 320 / 448)</summary>",
        "",
        *(
            f"- {d} / {by_size[320].details[i].rsplit('→ ', 1)[1]}"
            f" / {by_size[448].details[i].rsplit('→ ', 1)[1]}"
            for i, d in enumerate(base.details)
        ),
        "",
        "</details>",
        "",
    ]
    return by_size
