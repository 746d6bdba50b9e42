"""Section 4, retrieval: ConSE over MiniLM for text queries judged by hand
(``eval_data/queries.json``), each photo scored through ``glassbox.analysis.pipeline.analyze``
exactly as the worker indexes it, and the semantic channel's relevance calibration refitted."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassbox.analysis.pipeline import analyze
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.evaluation.data import EVAL_DATA
from glassbox.evaluation.models import LocalConceptModel, Models
from glassbox.evaluation.plan import Report
from glassbox.retrieval import relevance

RECALL_AT = 5


@dataclass(frozen=True)
class QueryResult:
    text: str
    reciprocal_rank: float
    recall: float
    top: list[str]


def rank_queries(
    vectors: np.ndarray, names: Sequence[str], queries: list[dict], query_vectors: np.ndarray
) -> list[QueryResult]:
    results = []
    for query, q in zip(queries, query_vectors, strict=True):
        ranked = [names[i] for i in np.argsort(-(vectors @ q), kind="stable")]
        relevant = set(query["relevant"])
        first = next(r for r, name in enumerate(ranked, 1) if name in relevant)
        found = len(relevant & set(ranked[:RECALL_AT]))
        results.append(QueryResult(query["text"], 1 / first, found / len(relevant), ranked[:3]))
    return results


def section_retrieval(
    models: Models, corpus: Sequence[str], settings: Settings, report: Report
) -> None:
    queries = json.loads((EVAL_DATA / "queries.json").read_text())["queries"]
    started = time.perf_counter()
    client = LocalConceptModel(models.fast_net, models.encoder)
    vectors = np.stack(
        [
            analyze(Path(p).read_bytes(), client, models.bank, settings).semantic.vector
            for p in corpus
        ]
    )
    query_vectors = models.encoder.encode([q["text"] for q in queries])
    results = rank_queries(vectors, [Path(p).name for p in corpus], queries, query_vectors)
    report.timings_s["retrieval"] = time.perf_counter() - started
    mrr = float(np.mean([r.reciprocal_rank for r in results]))
    recall = float(np.mean([r.recall for r in results]))
    report.results["retrieval"] = {
        "queries": len(results),
        "corpus": len(corpus),
        "mrr": mrr,
        f"recall_at_{RECALL_AT}": recall,
        "per_query": {r.text: {"rr": r.reciprocal_rank, "recall": r.recall} for r in results},
    }
    calibration = calibrate_relevance(
        vectors, [Path(p).name for p in corpus], queries, query_vectors, models.bank
    )
    report.results["retrieval"]["calibration"] = {
        "a": calibration.a,
        "b": calibration.b,
        "brier_loqo": calibration.brier,
        "brier_base_rate": calibration.brier_base_rate,
        "cutoff": relevance.DEFAULT_CUTOFF,
        "precision_at_cutoff": calibration.cutoff_precision,
        "recall_at_cutoff": calibration.cutoff_recall,
    }
    report.markdown += [
        "## 4. Retrieval (ConSE over MiniLM)",
        "",
        f"Corpus: {len(corpus)} photos; {len(results)} text queries with relevant images judged"
        " by hand (`services/glassbox/evaluation/eval_data/queries.json`). Each photo is"
        " analysed by `glassbox.analysis.pipeline.analyze` (the worker's code path, with the"
        " in-process network in place of Triton) under the default settings: ConSE top"
        f" {settings.conse_top} classes plus top {settings.conse_broader_top} broader concepts"
        f" at weight {settings.conse_broader_weight}, and the grounded caption as a term at"
        f" weight {settings.caption_weight} (OCR is off here). Queries are embedded by MiniLM"
        " as typed;"
        " images are ranked by the dot product of the unit vectors.",
        "",
        f"**Mean reciprocal rank {mrr:.3f}, mean recall@{RECALL_AT} {recall:.3f}.**",
        "",
        f"| query | reciprocal rank | recall@{RECALL_AT} | top 3 |",
        "|---|---|---|---|",
        *(
            f"| {r.text} | {r.reciprocal_rank:.2f} | {r.recall:.2f} | {', '.join(r.top)} |"
            for r in results
        ),
        "",
        "### Relevance calibration (semantic channel)",
        "",
        "Each query's cosine with each photo is standardised against the same query's cosines"
        " with the 1000 ImageNet class embeddings, and a logistic regression maps it to the"
        " probability of relevance (`glassbox.retrieval.relevance`). Fitted on all"
        f" {len(queries)} x {len(corpus)} judged pairs:"
        f" **a = {calibration.a:.3f}, b = {calibration.b:.3f}** (the app's constants are"
        f" `SEMANTIC_A = {relevance.SEMANTIC_A}`, `SEMANTIC_B = {relevance.SEMANTIC_B}`).",
        "",
        f"Leave-one-query-out Brier score {calibration.brier:.3f} (always answering the base"
        f" rate: {calibration.brier_base_rate:.3f}). At the default cut-off"
        f" {relevance.DEFAULT_CUTOFF:.0%}, held-out precision {calibration.cutoff_precision:.2f}"
        f" and recall {calibration.cutoff_recall:.2f}.",
        "",
        "| predicted | pairs | mean predicted | observed relevant |",
        "|---|---|---|---|",
        *(f"| {b} | {n} | {pm:.2f} | {obs:.2f} |" for b, n, pm, obs in calibration.reliability),
        "",
        "| cut-off | held-out precision | held-out recall |",
        "|---|---|---|",
        *(f"| {c:.0%} | {pr:.2f} | {rc:.2f} |" for c, pr, rc in calibration.cutoffs),
        "",
    ]


def calibrate_relevance(
    vectors: np.ndarray,
    names: Sequence[str],
    queries: list[dict],
    query_vectors: np.ndarray,
    bank: ConceptBank,
) -> relevance.Calibration:
    """Fit the semantic channel's calibration on the judged pairs (one group per query)."""
    classes = bank.embeddings[: bank.n_leaves]
    groups = []
    for query, q in zip(queries, query_vectors, strict=True):
        bg = relevance.background(q, classes)
        z = np.array([bg.z(float(s)) for s in vectors @ q])
        y = np.array([name in set(query["relevant"]) for name in names], dtype=np.float64)
        groups.append((z, y))
    return relevance.calibrate(groups)
