"""Section 5, find similar and near-duplicates: how the appearance cosine and the similarity
score separate edited copies of a photo from different photos."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from glassbox.analysis.pipeline import analyze
from glassbox.config import Settings
from glassbox.evaluation.corpus import without_rescoring
from glassbox.evaluation.data import read_photo
from glassbox.evaluation.models import LocalConceptModel, Models
from glassbox.evaluation.plan import Report
from glassbox.retrieval import relevance

SIMILARITY_EDITS: dict[str, Any] = {
    "half size": lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2))),
    "JPEG quality 40": lambda im: im,
    "mirrored": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "cropped to 90%": lambda im: im.crop(
        (im.width // 20, im.height // 20, im.width - im.width // 20, im.height - im.height // 20)
    ),
    "greyscale": lambda im: im.convert("L").convert("RGB"),
}


def section_similarity(
    models: Models, corpus: Sequence[str], settings: Settings, report: Report
) -> None:
    """How "find similar" separates edited copies from different photos: the appearance
    cosine (near-duplicate grouping) and the similarity score (its cut-off)."""
    started = time.perf_counter()
    client = LocalConceptModel(models.fast_net, models.encoder)
    settings = without_rescoring(settings)  # changes no vector

    def vectors(data: bytes) -> tuple[np.ndarray, np.ndarray]:
        a = analyze(data, client, models.bank, settings)
        appearance = np.asarray(a.appearance, dtype=np.float32)
        return appearance / np.linalg.norm(appearance), np.asarray(a.semantic.vector, np.float32)

    def jpeg(image: Image.Image, quality: int) -> bytes:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=quality)
        return out.getvalue()

    base = [vectors(Path(p).read_bytes()) for p in corpus]
    app = np.stack([a for a, _ in base])
    sem = np.stack([s for _, s in base])
    pairs = np.triu_indices(len(corpus), 1)
    app_cos = (app @ app.T)[pairs]
    sim = relevance.similarity(app_cos, (sem @ sem.T)[pairs])
    rows = [
        (
            "different photos",
            len(app_cos),
            float(app_cos.min()),
            float(app_cos.max()),
            float(np.asarray(sim).max()),
        )
    ]
    for label, edit in SIMILARITY_EDITS.items():
        cos, sims = [], []
        for path, (a0, s0) in zip(corpus, base, strict=True):
            image = read_photo(path)
            a1, s1 = vectors(jpeg(edit(image), 40 if label == "JPEG quality 40" else 90))
            cos.append(float(a1 @ a0))
            sims.append(relevance.similarity(float(a1 @ a0), float(s1 @ s0)))
        rows.append((label, len(cos), min(cos), max(cos), min(sims)))
    report.timings_s["similarity"] = time.perf_counter() - started
    different = rows[0]
    copies = [r for r in rows[1:] if r[0] != "greyscale" and r[0] != "cropped to 90%"]
    report.results["similarity"] = {
        "photos": len(corpus),
        "different_max_appearance": different[3],
        "different_max_similarity": different[4],
        "edited_min_appearance": {r[0]: r[2] for r in rows[1:]},
        "near_duplicate_threshold": relevance.NEAR_DUPLICATE,
        "separated": bool(different[3] < relevance.NEAR_DUPLICATE <= min(r[2] for r in copies)),
    }
    report.markdown += [
        "## 5. Find similar and near-duplicates",
        "",
        f"Appearance vectors (pooled MobileNetV2 features, unit length) of {len(corpus)} photos"
        " and of edited copies of each; similarity is the mean of the appearance cosine and the"
        " ConSE cosine (`glassbox.retrieval.relevance.similarity`). Near-duplicates are grouped"
        f" at an appearance cosine of {relevance.NEAR_DUPLICATE:.2f}; find similar hides results"
        f" under {relevance.SIMILAR_CUTOFF:.2f} unless asked.",
        "",
        "| pairs | n | min appearance cosine | max appearance cosine | similarity (max for"
        " different photos, min for copies) |",
        "|---|---|---|---|---|",
        *(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} |" for r in rows),
        "",
    ]
