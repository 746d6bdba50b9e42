"""Section 4, retrieval: ConSE over MiniLM for text queries judged by hand
(``eval_data/queries.json``), each photo scored through ``glassbox.analysis.pipeline.analyze``
exactly as the worker indexes it, before and after the object detector
(``glassbox.evaluation.corpus``), and the semantic channel's relevance calibration refitted on
the vectors the worker indexes now (after)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.evaluation.corpus import Analysed
from glassbox.evaluation.data import load_json
from glassbox.evaluation.models import Models
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
    models: Models, analysed: Analysed, settings: Settings, report: Report
) -> None:
    queries = load_json("queries.json")["queries"]
    started = time.perf_counter()
    names = [p.name for p in analysed.photos]
    query_vectors = models.encoder.encode([q["text"] for q in queries])
    vectors, results = {}, {}
    for when in ("before", "after"):
        by_name = getattr(analysed, when)
        vectors[when] = np.stack([by_name[n].semantic.vector for n in names])
        results[when] = rank_queries(vectors[when], names, queries, query_vectors)
    report.timings_s["retrieval"] = time.perf_counter() - started

    def scores(rs: list[QueryResult]) -> dict[str, float]:
        return {
            "mrr": float(np.mean([r.reciprocal_rank for r in rs])),
            f"recall_at_{RECALL_AT}": float(np.mean([r.recall for r in rs])),
        }

    before, after = scores(results["before"]), scores(results["after"])
    mrr, recall = after["mrr"], after[f"recall_at_{RECALL_AT}"]
    report.results["retrieval"] = {
        "queries": len(queries),
        "corpus": len(names),
        **after,
        "before": before,
        "per_query": {
            b.text: {
                "rr_before": b.reciprocal_rank,
                "rr": a.reciprocal_rank,
                "recall": a.recall,
                "recall_before": b.recall,
            }
            for b, a in zip(results["before"], results["after"], strict=True)
        },
    }
    fitted_on = load_json("queries.json")["constants_fitted_on"]
    nq, nc = fitted_on["queries"], fitted_on["corpus"]
    app = calibrate_relevance(
        vectors[fitted_on["analysis"]][:nc],
        names[:nc],
        queries[:nq],
        query_vectors[:nq],
        models.bank,
    )
    calibration = calibrate_relevance(vectors["after"], names, queries, query_vectors, models.bank)
    for key, fit in (("calibration_app_pairs", app), ("calibration", calibration)):
        report.results["retrieval"][key] = {
            "a": fit.a,
            "b": fit.b,
            "brier_loqo": fit.brier,
            "brier_base_rate": fit.brier_base_rate,
            "cutoff": relevance.DEFAULT_CUTOFF,
            "precision_at_cutoff": fit.cutoff_precision,
            "recall_at_cutoff": fit.cutoff_recall,
        }
    report.markdown += [
        "## 4. Retrieval (ConSE over MiniLM)",
        "",
        f"Corpus: {len(names)} photos; {len(queries)} text queries with relevant images judged"
        " by hand (`services/glassbox/evaluation/eval_data/queries.json`). Each photo is"
        " analysed by `glassbox.analysis.pipeline.analyze` (the worker's code path, with the"
        " in-process networks in place of Triton) under the default settings: ConSE top"
        f" {settings.conse_top} classes plus top {settings.conse_broader_top} broader concepts"
        f" at weight {settings.conse_broader_weight}, and the grounded caption as a term at"
        f" weight {settings.caption_weight} (OCR is off here). **Before**: the classifier"
        " alone, as the analysis ran before the object detector. **After**: as the worker"
        ' indexes now, each detected class\'s phrase ("dog", "2 people", "white car")'
        f" also a term at weight {settings.object_text_weight} × its score, and the caption"
        " composed from the objects. Queries are embedded by MiniLM as typed; images are ranked"
        " by the dot product of the unit vectors.",
        "",
        f"| | mean reciprocal rank | mean recall@{RECALL_AT} |",
        "|---|---|---|",
        f"| before | {before['mrr']:.3f} | {before[f'recall_at_{RECALL_AT}']:.3f} |",
        f"| **after** | **{mrr:.3f}** | **{recall:.3f}** |",
        "",
        f"| query | reciprocal rank, before → after | recall@{RECALL_AT}, before → after |"
        " top 3 after |",
        "|---|---|---|---|",
        *(
            f"| {a.text} | {b.reciprocal_rank:.2f} → {a.reciprocal_rank:.2f} |"
            f" {b.recall:.2f} → {a.recall:.2f} | {', '.join(a.top)} |"
            for b, a in zip(results["before"], results["after"], strict=True)
        ),
        "",
        "### Relevance calibration (semantic channel)",
        "",
        "Each query's cosine with each photo is standardised against the same query's"
        " cosines with the 1000 ImageNet class embeddings, and a logistic regression maps it to"
        " the probability of relevance (`glassbox.retrieval.relevance`). The app's constants,"
        f" `SEMANTIC_A = {relevance.SEMANTIC_A}`, `SEMANTIC_B = {relevance.SEMANTIC_B}`, were"
        f" fitted on the first {nq} queries x {nc} photos analysed {fitted_on['analysis']};"
        f" refitted there: a = {app.a:.3f}, b = {app.b:.3f}. Fitted on all {len(queries)} x"
        f" {len(names)} judged pairs as the worker indexes now (after):"
        f" **a = {calibration.a:.3f}, b = {calibration.b:.3f}**; the numbers below are this"
        " fit's.",
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
