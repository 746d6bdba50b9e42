"""Section 6, objects, people, colours and counts: what a person names in each judged photo
(``eval_data/annotations.json``) against what the analysis names, before and after the object
detector; the detector's precision per class on hand-drawn boxes (``eval_data/boxes.json``,
``"detector"``) at one threshold for all classes and at the calibrated ones; and bad input (a
crowd, tiny boxes, greyscale and sepia copies).

- **Annotation recall**: the share of the named facts (``glassbox.evaluation.matching``: the
  noun, its count, its colour) that the tags, the detected objects or the caption name;
  **caption recall**: the same by the caption alone. "Before" is the classifier alone, "after"
  the analysis as it runs now (``glassbox.evaluation.corpus``).
- **Precision per class**: each kept box (``glassbox.detection.objects.object_evidence``, on
  the image the worker sends) is correct when its IoU with an unmatched box of its class is at
  least ``MATCH_IOU`` (0.5), the boxes taken by descending score; a box over a region marked
  ``ignore`` (a crowd of spectators, a painted figure, boats too small to box) counts neither
  way; anything else is a false positive.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from glassbox.analysis.pipeline import analyze
from glassbox.analysis.state import ImageState
from glassbox.config import Settings
from glassbox.detection import objects as detection
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evaluation.corpus import Analysed, without_rescoring
from glassbox.evaluation.data import load_json, photo_path, read_photo
from glassbox.evaluation.matching import (
    CATEGORIES,
    Named,
    Recall,
    named_from,
    recall_over,
    recalled,
    seen_in,
)
from glassbox.evaluation.models import LocalConceptModel, Models, with_objects
from glassbox.evaluation.plan import Plan, Report
from glassbox.evidence_types import ObjectDetection

MATCH_IOU = 0.5
CROWD_BOXES = 150  # a synthetic crowd: more boxes than the model's 100
TINY_SIDE_PX = 8  # a synthetic tiny box: under the 12 px rule


# --- the detector's precision ------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    classes: frozenset[str]
    box: tuple[float, float, float, float]  # pixels
    ignore: bool = False


def read_truth(entry: Mapping[str, Any]) -> Truth:
    classes = entry["class"]
    classes = frozenset([classes] if isinstance(classes, str) else classes)
    unknown = classes - set(COCO_LABELS.values())
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not COCO classes")
    return Truth(classes, tuple(float(v) for v in entry["box"]), bool(entry.get("ignore")))


def judge_boxes(
    found: Sequence[tuple[str, tuple[float, float, float, float], float]], truth: Sequence[Truth]
) -> list[str]:
    """Each detection ``(class, pixel box, score)`` judged "tp", "fp" or "ignored" (module
    docstring), in the order given."""
    verdicts = [""] * len(found)
    taken: set[int] = set()
    for k in sorted(range(len(found)), key=lambda i: -found[i][2]):
        name, box, _ = found[k]
        best, best_iou = None, MATCH_IOU
        for j, t in enumerate(truth):
            if t.ignore or j in taken or name not in t.classes:
                continue
            overlap = detection.iou(box, t.box)
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best is not None:
            taken.add(best)
            verdicts[k] = "tp"
        elif any(t.ignore and name in t.classes and _covered(box, t.box) for t in truth):
            verdicts[k] = "ignored"
        else:
            verdicts[k] = "fp"
    return verdicts


def _covered(box, region) -> bool:
    """At least half of ``box`` lies inside ``region``."""
    x0, y0 = max(box[0], region[0]), max(box[1], region[1])
    x1, y1 = min(box[2], region[2]), min(box[3], region[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    return area > 0 and inter / area >= 0.5


def evidence_image(image: Image.Image, settings: Settings) -> np.ndarray:
    """The image the worker sends the detector (``ImageState.evidence_image``)."""
    state = ImageState(b"", None, None, settings)
    state.image = image
    return state.evidence_image()


@dataclass(frozen=True)
class Judged:
    photo: str
    name: str
    score: float
    verdict: str


def detector_verdicts(
    models: Models, boxed: Sequence[Mapping[str, Any]], settings: Settings
) -> dict[str, list[Judged]]:
    """Every kept box of every boxed photo, judged, at ``"uniform"`` (every class at
    ``DEFAULT_THRESHOLD``) and at the ``"calibrated"`` thresholds (``THRESHOLDS``)."""
    client = LocalConceptModel(models.fast_net, detector=models.detector)
    uniform = {c: detection.DEFAULT_THRESHOLD for c in COCO_LABELS}
    out: dict[str, list[Judged]] = {"uniform": [], "calibrated": []}
    for item in boxed:
        image = read_photo(item["file"])
        truth = [read_truth(b) for b in item["boxes"]]
        found = client.detect_objects(evidence_image(image, settings))
        size = (image.width, image.height)
        for key, thresholds in (("uniform", uniform), ("calibrated", None)):
            kept = detection.object_evidence(found, models.bank, size=size, thresholds=thresholds)
            boxes = [
                (o.name, _pixels(b, size), float(s))
                for o in kept
                for b, s in zip(o.boxes, o.scores, strict=True)
            ]
            name = photo_path(item["file"]).name
            out[key] += [
                Judged(name, c, s, v)
                for (c, _, s), v in zip(boxes, judge_boxes(boxes, truth), strict=True)
            ]
    return out


def _pixels(box, size: tuple[int, int]) -> tuple[float, float, float, float]:
    w, h = size
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def precision_by_class(judged: Sequence[Judged]) -> dict[str, tuple[int, int]]:
    """class -> (true positives, false positives), ignored boxes left out."""
    out: dict[str, list[int]] = {}
    for j in judged:
        if j.verdict != "ignored":
            out.setdefault(j.name, [0, 0])[j.verdict == "fp"] += 1
    return {c: (tp, fp) for c, (tp, fp) in sorted(out.items())}


# --- bad input ---------------------------------------------------------------------------


class FixedDetector:
    """A stand-in for ``ObjectDetector``: the same detections (boxes as fractions of the
    image) for every image, in pixels as the real one answers."""

    def __init__(self, found: Sequence[tuple[int, tuple[float, float, float, float], float]]):
        self.found = list(found)

    def detect(self, image: np.ndarray) -> list[ObjectDetection]:
        h, w = image.shape[:2]
        return [
            ObjectDetection(COCO_LABELS[c], c, (b[0] * w, b[1] * h, b[2] * w, b[3] * h), s)
            for c, b, s in sorted(self.found, key=lambda d: -d[2])
        ]


def crowd(n: int = CROWD_BOXES) -> list[tuple[int, tuple[float, float, float, float], float]]:
    """``n`` separate person boxes on a grid, scores from 0.99 down to 0.6."""
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = []
    for k in range(n):
        r, c = divmod(k, cols)
        x0, y0 = c / cols, r / rows
        box = (x0 + 0.1 / cols, y0 + 0.1 / rows, x0 + 0.9 / cols, y0 + 0.9 / rows)
        out.append((1, box, 0.99 - 0.39 * k / max(n - 1, 1)))
    return out


def tiny(size: tuple[int, int]) -> list[tuple[int, tuple[float, float, float, float], float]]:
    """Confident boxes of dog, car and person, each ``TINY_SIDE_PX`` square on an image of
    ``size``: under the 12 px rule."""
    w, h = size
    side_w, side_h = TINY_SIDE_PX / w, TINY_SIDE_PX / h
    return [
        (c, (0.2 * k + 0.1, 0.5, 0.2 * k + 0.1 + side_w, 0.5 + side_h), 0.99)
        for k, c in enumerate((18, 3, 1))
    ]


def sepia(image: Image.Image) -> Image.Image:
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64) @ matrix.T
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def colour_words(analysis: Any) -> int:
    """Colour words an analysis says: colour phrases of its caption and named object colours."""
    said = sum(p.kind == "colour" for p in analysis.caption.phrases)
    return said + sum(bool((o.get("colour") or {}).get("name")) for o in analysis.objects)


def _png(image: Image.Image) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def bad_input(
    models: Models, settings: Settings, tone_photos: Sequence[Path], analysed: Analysed
) -> dict[str, Any]:
    config = without_rescoring(with_objects(settings))

    def run(data: bytes, found=None) -> Any:
        detector = models.detector if found is None else FixedDetector(found)
        client = LocalConceptModel(models.fast_net, models.encoder, detector=detector)
        return analyze(data, client, models.bank, config)

    photo = next(p for p in analysed.photos if p.name == "kite.jpg")
    many = run(photo.read_bytes(), crowd())
    person = next(o for o in many.objects if o["name"] == "person")
    size = read_photo(photo).size
    small = run(photo.read_bytes(), tiny(size))
    detector_tags = [t for t in small.tags if t.source != "classifier"]
    rules = detection.RULES
    undersized = 0
    for p in analysed.photos:
        a = analysed.after[p.name]
        for t in a.tags:
            for d in t.detections:
                x0, y0, x1, y1 = d["box"]
                side = min((x1 - x0) * a.width, (y1 - y0) * a.height)
                undersized += side < rules.min_side_px or (x1 - x0) * (y1 - y0) < rules.min_area
    tones: dict[str, list[int]] = {"original": [], "greyscale": [], "sepia": []}
    for p in tone_photos:
        image = read_photo(p)
        tones["original"].append(colour_words(analysed.after[p.name]))
        tones["greyscale"].append(colour_words(run(_png(greyscale(image)))))
        tones["sepia"].append(colour_words(run(_png(sepia(image)))))
    return {
        "crowd": {
            "boxes_given": CROWD_BOXES,
            "person_count": int(person["count"]),
            "person_boxes_shown": len(person["boxes"]),
            "crowd": bool(person["crowd"]),
            "tags": len(many.tags),
            "max_tags": settings.max_tags + settings.max_object_tags,
            "caption": many.caption.text,
            "caption_chars": len(many.caption.text),
        },
        "tiny": {
            "boxes_given": len(tiny(size)),
            "detector_tags": len(detector_tags),
            "objects": len(small.objects),
            "caption": small.caption.text,
            "undersized_tag_boxes_in_corpus": int(undersized),
        },
        "tone": {
            "photos": len(tone_photos),
            **{k: int(sum(v)) for k, v in tones.items()},
            "photos_with_colour_words": {k: int(sum(x > 0 for x in v)) for k, v in tones.items()},
        },
    }


# --- the section -------------------------------------------------------------------------


def load_annotations(bank: Any) -> list[tuple[str, list[Named]]]:
    images = load_json("annotations.json")["images"]
    return [
        (photo_path(im["file"]).name, [named_from(n, bank) for n in im["names"]]) for im in images
    ]


def _pct(value: float) -> str:
    return "–" if value != value else f"{value:.0%}"


def _recall_rows(label: str, before: Recall, after: Recall) -> list[str]:
    cells = [f"{_pct(before.share)} → {_pct(after.share)}"]
    cells += [
        f"{_pct(before.of(c))} → {_pct(after.of(c))} (of {after.total[c]})" for c in CATEGORIES
    ]
    return [f"| {label} | " + " | ".join(cells) + " |"]


def _recall_dict(r: Recall) -> dict[str, Any]:
    return {
        "overall": r.share,
        "facts": int(sum(r.total.values())),
        **{c: r.of(c) for c in CATEGORIES},
        "totals": dict(r.total),
    }


def section_objects(
    models: Models, analysed: Analysed, settings: Settings, plan: Plan, report: Report
) -> None:
    started = time.perf_counter()
    bank = models.bank
    annotated = load_annotations(bank)
    missing = [name for name, _ in annotated if name not in analysed.after]
    if missing:
        raise ValueError(f"annotated photos not in the corpus of queries.json: {missing}")
    recall: dict[str, Recall] = {}
    for when, by_name in (("before", analysed.before), ("after", analysed.after)):
        items = [(things, seen_in(by_name[name])) for name, things in annotated]
        recall[f"annotation_{when}"] = recall_over(items, bank)
        recall[f"caption_{when}"] = recall_over(items, bank, caption_only=True)
    boxed = load_json("boxes.json")["detector"]
    verdicts = detector_verdicts(models, boxed, settings)
    table = {k: precision_by_class(v) for k, v in verdicts.items()}
    colour_photos = [
        p
        for p in analysed.photos
        if p.name in {n for n, t in annotated if any(x.colour for x in t)}
    ]
    bad = bad_input(models, settings, colour_photos[: plan.tone_photos], analysed)
    report.timings_s["objects"] = time.perf_counter() - started
    report.results["objects"] = {
        "photos": len(annotated),
        "named": sum(len(t) for _, t in annotated),
        **{k: _recall_dict(v) for k, v in recall.items()},
        "precision": {
            key: {c: {"tp": tp, "fp": fp} for c, (tp, fp) in rows.items()}
            for key, rows in table.items()
        },
        "boxed_photos": len(boxed),
        "judged": {
            key: [[j.photo, j.name, round(j.score, 4), j.verdict] for j in v]
            for key, v in verdicts.items()
        },
        "bad_input": bad,
    }
    report.markdown += _markdown(
        annotated, analysed, recall, verdicts, table, bad, bank, len(boxed)
    )


def _markdown(annotated, analysed, recall, verdicts, table, bad, bank, n_boxed) -> list[str]:
    n_named = sum(len(t) for _, t in annotated)
    classes = sorted(set(table["uniform"]) | set(table["calibrated"]))

    def cell(rows, c):
        tp, fp = rows.get(c, (0, 0))
        return f"{tp}/{tp + fp}" if tp + fp else "–"

    def overall(rows):
        tp = sum(v[0] for v in rows.values())
        fp = sum(v[1] for v in rows.values())
        return f"{tp}/{tp + fp} ({tp / max(tp + fp, 1):.0%})"

    def threshold(c):
        cid = next(k for k, v in COCO_LABELS.items() if v == c)
        return f"{detection.threshold_for(cid):.2f}"

    false = {
        key: ", ".join(f"{j.photo} {j.name} {j.score:.2f}" for j in v if j.verdict == "fp")
        or "none"
        for key, v in verdicts.items()
    }
    per_photo = []
    for name, things in annotated:
        after = seen_in(analysed.after[name])
        missed = [
            f"{t.label} ({', '.join(k for k, v in recalled(t, after, bank).items() if not v)})"
            for t in things
            if not all(recalled(t, after, bank).values())
        ]
        per_photo.append(
            f"| {name} | {_cap(analysed.before[name])} | {_cap(analysed.after[name])} |"
            f" {'; '.join(missed) or '–'} |"
        )
    crowd_, tiny_, tone = bad["crowd"], bad["tiny"], bad["tone"]
    return [
        "## 6. Objects, people, colours and counts",
        "",
        f"What a person names in {len(annotated)} judged photos ({n_named} things, written down"
        " while looking at each photo: `services/glassbox/evaluation/eval_data/annotations.json`)"
        " against what the analysis names. Each thing is up to three facts: its noun (an object,"
        " or one of the people), its count (2 to 5, or many) and its colour. A fact is named"
        " when a tag, a detected object or the caption names it (`glassbox.evaluation."
        "matching`: a tag or detection at or under the thing's concept in the WordNet hierarchy,"
        " or by its word; a count when a detection counts that many boxes or the caption says"
        " that number before the noun; a colour when the detection of the thing has it or the"
        " caption says it before the noun). **Before**: the classifier alone, as the analysis ran"
        " before the object detector. **After**: classifier, detector, colours and object"
        " captions, as the worker runs it now (OCR off: no OCR model here).",
        "",
        "| recall, before → after | all facts | objects | people | counts | colours |",
        "|---|---|---|---|---|---|",
        *_recall_rows(
            "annotation (tags, detections, caption)",
            recall["annotation_before"],
            recall["annotation_after"],
        ),
        *_recall_rows("caption alone", recall["caption_before"], recall["caption_after"]),
        "",
        "<details><summary>Per photo: the caption before and after, and what is still"
        " missed after</summary>",
        "",
        "| photo | caption before | caption after | missed after (fact) |",
        "|---|---|---|---|",
        *per_photo,
        "",
        "</details>",
        "",
        "### The detector's precision per class",
        "",
        f"Every object of a COCO class in {n_boxed} of the judged photos was boxed by hand"
        " (`eval_data/boxes.json`, `detector`; home.jpg's flock of small birds is left out)."
        " The detector runs on the image the worker sends; the boxes it keeps"
        " (`object_evidence`: thresholds, no tiny boxes, one name per object) are judged"
        f" correct at IoU ≥ {MATCH_IOU} with an unmatched box of their class. Uniform:"
        f" every class at {detection.DEFAULT_THRESHOLD}; calibrated: the per-class thresholds"
        " of `glassbox.detection.objects.THRESHOLDS`.",
        "",
        "| class | threshold | correct / kept, uniform | correct / kept, calibrated |",
        "|---|---|---|---|",
        *(
            f"| {c} | {threshold(c)} | {cell(table['uniform'], c)} |"
            f" {cell(table['calibrated'], c)} |"
            for c in classes
        ),
        f"| all | | {overall(table['uniform'])} | {overall(table['calibrated'])} |",
        "",
        f"False positives, uniform: {false['uniform']}.",
        "",
        f"False positives, calibrated: {false['calibrated']}.",
        "",
        "### Bad input",
        "",
        f"- **A crowd**: {crowd_['boxes_given']} person boxes given to the pipeline on kite.jpg"
        " in place of the detector's answer (packed as Triton packs it, so"
        f" {crowd_['person_count']} arrive): {crowd_['person_boxes_shown']} boxes carried,"
        f" {crowd_['tags']} tags (at most {crowd_['max_tags']}), caption of"
        f' {crowd_["caption_chars"]} characters: "{crowd_["caption"]}"',
        f"- **Tiny boxes**: {tiny_['boxes_given']} boxes of {TINY_SIDE_PX} × {TINY_SIDE_PX} px"
        f" scoring 0.99: {tiny_['detector_tags']} detector tags, {tiny_['objects']} objects;"
        f' caption "{tiny_["caption"]}". Tag boxes under the size rule over the whole corpus'
        f" after: {tiny_['undersized_tag_boxes_in_corpus']}.",
        f"- **Greyscale and sepia copies** of the {tone['photos']} judged photos named with a"
        f" colour: colour words said (caption colour phrases and object colours) in the"
        f" originals {tone['original']} (in {tone['photos_with_colour_words']['original']} of"
        f" them), in the greyscale copies {tone['greyscale']}, in the sepia copies"
        f" {tone['sepia']}.",
        "",
    ]


def _cap(analysis: Any) -> str:
    return analysis.caption.text.replace("|", "\\|")
