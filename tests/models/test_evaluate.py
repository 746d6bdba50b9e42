"""The evaluation command in quick mode: it writes a report with the six sections, numbers
in each, its plots, and retrieval at least as good as the system measured when this test was
written (quick mode still ranks the full 40-photo corpus for all judged queries, and still
scores every judged photo's annotations and every hand-boxed photo's detections)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from glassbox.evaluation.report import main

# Measured after (with the object detector): MRR 0.836, recall@5 0.875 (41 queries, 40
# photos, default settings); before (the classifier alone): 0.689, 0.696.
MRR_FLOOR = 0.80
RECALL_FLOOR = 0.85
SECTIONS = (
    "## 1. Accuracy vs explainability",
    "## 2. Faithfulness",
    "## 3. Localisation",
    "## 4. Retrieval",
    "## 5. Find similar",
    "## 6. Objects, people, colours and counts",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    assert main(["--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "results.json").read_text())


def section_text(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + len(heading))
    return markdown[start : end if end >= 0 else None]


def test_the_report_has_its_sections_each_with_numbers(report) -> None:
    out, _ = report
    markdown = (out / "README.md").read_text()
    for heading in SECTIONS:
        assert heading in markdown
        assert re.search(r"\d+\.\d+|\d+/\d+", section_text(markdown, heading)), heading


def test_the_report_states_hardware_versions_date_and_command(report) -> None:
    markdown = (report[0] / "README.md").read_text()
    for needle in ("Hardware:", "torch ", "mobilenet_v2.pth", "sha256", "concept bank", "Date:"):
        assert needle in markdown
    assert "python -m glassbox.evaluation --quick" in markdown


def test_plots_are_written_next_to_the_report(report) -> None:
    out, _ = report
    for name in ("accuracy_vs_sparsity.png", "deletion_insertion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numbers_are_in_range(report) -> None:
    _, results = report
    acc = results["accuracy"]
    assert 0.1 < acc["bottleneck_test_accuracy"] <= 1 and 0.1 < acc["probe_test_accuracy"] <= 1
    assert acc["nonzero_weights_per_class"] < 1000
    faith = results["faithfulness"]
    for kind in ("deletion", "insertion", "random_deletion", "random_insertion"):
        assert 0.0 <= faith[f"mean_{kind}_auc"] <= 1.0
    for size in ("224", "320", "448"):
        loc = results["localisation"][size]
        assert 0 <= loc["hits"] <= loc["total"] and loc["total"] >= 10
    assert results["localisation"]["224"]["top1_agreement_with_224"] == 1.0


def test_retrieval_meets_the_measured_floor_and_the_detector_helps_it(report) -> None:
    retrieval = report[1]["retrieval"]
    assert retrieval["queries"] >= 40 and retrieval["corpus"] >= 40
    assert retrieval["mrr"] >= MRR_FLOOR
    assert retrieval["recall_at_5"] >= RECALL_FLOOR
    before = retrieval["before"]
    assert retrieval["mrr"] > before["mrr"] and retrieval["recall_at_5"] > before["recall_at_5"]
    for query in ("people", "two people", "astronaut"):  # only the detector finds people
        assert retrieval["per_query"][query]["rr"] > retrieval["per_query"][query]["rr_before"]


def test_relevance_calibration_is_what_the_app_uses_and_beats_the_base_rate(report) -> None:
    from glassbox.retrieval import relevance

    retrieval = report[1]["retrieval"]
    # the pairs the constants were fitted on (queries.json, constants_fitted_on) give them back
    app = retrieval["calibration_app_pairs"]
    assert app["a"] == pytest.approx(relevance.SEMANTIC_A, abs=0.01)
    assert app["b"] == pytest.approx(relevance.SEMANTIC_B, abs=0.01)
    for fit in (app, retrieval["calibration"]):
        assert fit["brier_loqo"] < 0.75 * fit["brier_base_rate"]
        assert fit["precision_at_cutoff"] >= 0.5


def test_objects_section_measures_recall_before_and_after_and_the_detectors_precision(
    report,
) -> None:
    objects = report[1]["objects"]
    assert objects["photos"] >= 25 and objects["boxed_photos"] >= 25
    for when in ("before", "after"):
        everything, caption = objects[f"annotation_{when}"], objects[f"caption_{when}"]
        assert everything["facts"] == caption["facts"] > objects["named"]
        for key in ("overall", "objects", "people", "counts", "colours"):
            assert 0.0 <= caption[key] <= everything[key] <= 1.0, (when, key)
    before, after = objects["annotation_before"], objects["annotation_after"]
    assert after["overall"] > before["overall"]
    assert after["people"] > before["people"]  # ImageNet has no person class
    assert objects["caption_after"]["colours"] > 0.0  # colour words come from the detector
    uniform, calibrated = objects["precision"]["uniform"], objects["precision"]["calibrated"]

    def totals(rows: dict) -> tuple[int, int]:
        return sum(r["tp"] for r in rows.values()), sum(r["fp"] for r in rows.values())

    (tp_u, fp_u), (tp_c, fp_c) = totals(uniform), totals(calibrated)
    assert tp_c == tp_u > 0  # the calibrated thresholds lose no judged true positive
    assert fp_c < fp_u
    assert "cake" in uniform and "cake" not in calibrated  # Munch's Scream


def test_bad_input_keeps_tags_and_captions_bounded_and_grey_images_colourless(report) -> None:
    bad = report[1]["objects"]["bad_input"]
    crowd = bad["crowd"]
    assert crowd["person_count"] == 100 and crowd["crowd"]  # Triton's 100 of the 150 given
    assert crowd["person_boxes_shown"] <= 12 and crowd["tags"] <= crowd["max_tags"]
    assert "many people" in crowd["caption"].lower() and crowd["caption_chars"] < 120
    tiny = bad["tiny"]
    assert tiny["detector_tags"] == 0 and tiny["objects"] == 0
    assert tiny["undersized_tag_boxes_in_corpus"] == 0
    tone = bad["tone"]
    assert tone["photos"] >= 1 and tone["original"] > 0  # the check can see colour words
    assert tone["greyscale"] == 0 and tone["sepia"] == 0


def test_near_duplicates_are_separated_from_different_photos(report) -> None:
    from glassbox.retrieval import relevance

    similarity = report[1]["similarity"]
    assert similarity["separated"], similarity
    assert similarity["different_max_appearance"] < relevance.NEAR_DUPLICATE
