from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from glassbox.analysis import pipeline
from glassbox.analysis.evidence import heatmap_for
from glassbox.analysis.pipeline import analyze, run_steps
from glassbox.analysis.state import ImageState
from glassbox.analysis.steps import STEPS
from glassbox.clients.triton import ConceptOutput
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.evidence_types import Detection, TextLine
from glassbox.media.imaging import InvalidMedia
from PIL import Image

N_CONCEPTS, DIM = 40, 12
# Ranking the fake model produces: concept 7 first, then 3, then 21, then the rest.
LEADERS = {7: 6.0, 3: 4.5, 21: 3.0}


# Broader concepts: row N_CONCEPTS groups the leaders 7 and 3; row N_CONCEPTS + 1 groups two
# leaves the model ranks last, outside its sixteen CAM classes.
BROADER = {N_CONCEPTS: (7, 3), N_CONCEPTS + 1: (0, 1)}


def make_bank() -> ConceptBank:
    n = N_CONCEPTS + len(BROADER)
    e = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    members = np.zeros((len(BROADER), N_CONCEPTS), dtype=bool)
    for row, leaves in enumerate(BROADER.values()):
        members[row, list(leaves)] = True
    return ConceptBank(
        names=tuple(f"concept {i}" for i in range(n)),
        wnids=tuple(f"n{i:08d}" for i in range(n)),
        glosses=tuple("" for _ in range(n)),
        embeddings=e / np.linalg.norm(e, axis=1, keepdims=True),
        version="test",
        members=members,
    )


class FakeConceptModel:
    """Deterministic stand-in for Triton's image_concepts that honours the CAM identity:
    CAMS[k].mean() + CAM_BIAS[k] == CONCEPT_LOGITS[CAM_INDICES[k]]."""

    def __init__(self, lines=(), detections=(), objects=()) -> None:
        self.calls: list[np.ndarray] = []
        self.lines = list(lines)  # what "ocr" reads
        self.detections = list(detections)  # what "nsfw_detector" finds
        self.objects = list(objects)  # what "object_detection" finds
        self.read: list[np.ndarray] = []
        self.embedded: list[str] = []

    def read_text(self, image: np.ndarray) -> list[TextLine]:
        self.read.append(image)
        return self.lines

    def detect_nsfw(self, image: np.ndarray) -> list[Detection]:
        return self.detections

    def detect_objects(self, image: np.ndarray) -> list:
        return self.objects

    def detect_objects_many(self, images) -> list[list]:
        return [self.detect_objects(image) for image in images]

    def embed_texts(self, texts) -> np.ndarray:
        self.embedded.extend(texts)
        rng = np.random.default_rng(len(self.embedded))
        e = rng.normal(size=(len(texts), DIM)).astype(np.float32)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def analyze_images(self, batch: np.ndarray) -> ConceptOutput:
        self.calls.append(batch)
        n = batch.shape[0]
        logits = np.linspace(0.0, 1.0, N_CONCEPTS, dtype=np.float32)
        for cid, value in LEADERS.items():
            logits[cid] = value
        order = np.argsort(-logits)[:16].astype(np.int32)
        cams = np.zeros((16, 7, 7), dtype=np.float32)
        for k, cid in enumerate(order):
            row, col = (1, 1) if cid == 7 else (5, 5) if cid == 3 else divmod(k, 7)
            cams[k, row, col] = 10.0
        bias = logits[order] - cams.mean(axis=(1, 2))
        return ConceptOutput(
            logits=np.tile(logits, (n, 1)),
            pooled=np.ones((n, 1280), dtype=np.float32),
            cam_indices=np.tile(order, (n, 1)),
            cams=np.tile(cams, (n, 1, 1, 1)),
            cam_bias=np.tile(bias, (n, 1)),
        )


def jpeg(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


SETTINGS = replace(Settings(), tag_threshold=0.10, max_tags=5, conse_top=8, faithfulness="off")


def test_the_model_receives_the_whole_image_at_the_configured_size() -> None:
    client = FakeConceptModel()
    analyze(jpeg(), client, make_bank(), replace(SETTINGS, image_size=64))
    (batch,) = client.calls
    assert batch.shape == (1, 64, 64, 3) and batch.dtype == np.uint8


def test_analysis_reports_the_original_size_and_the_top_sixteen_concepts() -> None:
    result = analyze(jpeg(300, 200), FakeConceptModel(), make_bank(), SETTINGS)
    assert (result.width, result.height) == (300, 200)
    assert len(result.concepts) == 16
    assert [c.id for c in result.concepts[:3]] == [7, 3, 21]
    assert result.concepts[0].name == "concept 7"
    assert sum(c.prob for c in result.concepts) <= 1.0


def test_tags_carry_their_cam_region_and_justification() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    first, second = result.tags[:2]
    assert (first.concept_id, first.wnid) == (7, "n00000007")
    assert first.cam == result.cams[7] and len(first.cam) == 7 and len(first.cam[0]) == 7
    x0, y0, x1, y1 = first.box
    assert x1 < 0.5 and y1 < 0.5  # concept 7's CAM peaks at cell (1, 1)
    assert second.box[0] > 0.5 and second.box[1] > 0.5  # concept 3's peaks at (5, 5)
    assert first.justification.startswith(f"Tagged concept 7 ({first.score:.0%})")
    assert "top-left" in first.justification
    assert first.justification.endswith(f"next best: concept 3 ({second.score:.0%}).")


def test_every_tag_and_conse_concept_has_a_cam() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    assert len(result.semantic.concept_ids) == 8 + 1  # eight leaves, one broader concept
    needed = {t.concept_id for t in result.tags} | set(result.semantic.concept_ids.tolist())
    needed |= {f"t{j}" for j in range(len(result.text_terms))}  # read text and the caption
    assert needed == set(result.cams)


def test_conse_top_is_capped_at_the_sixteen_cam_classes() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), replace(SETTINGS, conse_top=32))
    assert len([c for c in result.semantic.concept_ids if c < N_CONCEPTS]) == 16
    assert set(result.semantic.concept_ids.tolist()) <= set(result.cams)


def test_semantic_vector_is_unit_length() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    assert np.linalg.norm(result.semantic.vector) == pytest.approx(1.0, abs=1e-6)


def test_without_explanations_tags_keep_cams_but_have_no_box() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), replace(SETTINGS, explanations=False))
    assert result.tags and all(t.box is None for t in result.tags)
    assert all(t.cam for t in result.tags)
    assert "evidence" not in result.tags[0].justification


def test_timings_and_appearance_are_reported() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    assert set(result.timings) == {"decode", "infer", "read", "detect", "explain"}
    assert all(ms >= 0 for ms in result.timings.values())
    assert len(result.appearance) == 1280


def test_invalid_upload_is_rejected_before_the_model_is_called() -> None:
    client = FakeConceptModel()
    with pytest.raises(InvalidMedia):
        analyze(b"not an image", client, make_bank(), SETTINGS)
    assert client.calls == []


def test_heatmap_for_renders_the_weighted_cams_at_the_requested_size() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    png = heatmap_for([result.cams[7], result.cams[3]], [1.0, 0.2], (50, 80))
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGBA" and image.size == (80, 50)
    alpha = np.asarray(image)[..., 3]
    assert alpha[:25, :40].max() > alpha[25:, 40:].max()  # concept 7 (top-left) dominates


def test_a_broader_concept_joins_the_mix_with_its_leaves_mixed_cam() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    ids = result.semantic.concept_ids.tolist()
    assert N_CONCEPTS in ids  # groups the two leaders
    assert N_CONCEPTS + 1 not in ids  # none of its leaves has a CAM, so it cannot be shown
    probs = {c.id: c.prob for c in result.concepts}
    expected = (probs[7] * np.array(result.cams[7]) + probs[3] * np.array(result.cams[3])) / (
        probs[7] + probs[3]
    )
    np.testing.assert_allclose(result.cams[N_CONCEPTS], expected, rtol=1e-5, atol=1e-6)


def test_broader_concepts_are_left_out_when_their_count_is_zero() -> None:
    settings = replace(SETTINGS, conse_broader_top=0)
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), settings)
    assert all(c < N_CONCEPTS for c in result.semantic.concept_ids)


def test_the_caption_is_grounded_in_the_tags_regions() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    assert result.caption.text == "A concept 7."  # concept 7 is confident (70%)
    (phrase,) = result.caption.phrases
    assert (phrase.kind, phrase.label, phrase.evidence.concept_ids) == (
        "concept",
        "concept 7",
        (7,),
    )
    assert phrase.evidence.boxes == (result.tags[0].box,)  # the same region as the tag's


def test_the_caption_quotes_the_ocr_lines_it_is_given() -> None:
    lines = [("OPEN 24 HOURS", (0.5, 0.1, 0.9, 0.2), 0.95)]
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS, text_lines=lines)
    assert result.caption.text == 'A concept 7 with the text "OPEN 24 HOURS".'
    assert result.caption.phrases[-1].evidence.boxes == ((0.5, 0.1, 0.9, 0.2),)


def test_read_text_is_evidence_and_joins_the_vector_as_exact_terms() -> None:
    lines = [
        TextLine("OPEN 24 HOURS", (0.1, 0.1, 0.6, 0.3), 0.97),
        TextLine("~", (0.7, 0.7, 0.8, 0.8), 0.99),  # not a word: evidence, not a term
        TextLine("blurry", (0.2, 0.6, 0.4, 0.7), 0.41),  # not confident enough
    ]
    client = FakeConceptModel(lines=lines)
    bank = make_bank()
    result = analyze(jpeg(1200, 2400), client, bank, SETTINGS)
    assert max(client.read[0].shape[:2]) == SETTINGS.ocr_max_side  # shrunk before OCR
    assert result.text_lines == lines
    assert [t["text"] for t in result.text_terms if t["kind"] == "ocr"] == ["OPEN 24 HOURS"]
    sem = result.semantic
    rebuilt = sem.weights @ bank.embeddings[sem.concept_ids] + sem.text_weights @ np.array(
        [t["embedding"] for t in result.text_terms]
    )
    np.testing.assert_allclose(rebuilt, sem.vector, atol=1e-5)
    heat = np.array(result.cams["t0"])
    assert heat[1, 1] > 0 and heat[6, 6] == 0  # the line's box, top-left
    assert "OPEN 24 HOURS" in result.caption.text


def test_only_confident_sensitive_content_detections_are_reported() -> None:
    found = [
        Detection("FACE_FEMALE", (0.1, 0.1, 0.2, 0.2), 0.9),
        Detection("BELLY_EXPOSED", (0.3, 0.3, 0.5, 0.5), 0.3),
    ]
    result = analyze(jpeg(), FakeConceptModel(detections=found), make_bank(), SETTINGS)
    assert [d.label for d in result.nsfw] == ["FACE_FEMALE"]


def test_with_ocr_and_nsfw_off_neither_model_is_called() -> None:
    client = FakeConceptModel(lines=[TextLine("HELLO", (0, 0, 1, 1), 1.0)])
    result = analyze(jpeg(), client, make_bank(), replace(SETTINGS, ocr=False, nsfw=False))
    assert client.read == [] and result.text_lines == []
    assert [t for t in result.text_terms if t["kind"] == "ocr"] == []


class BrightCornerModel(FakeConceptModel):
    """Concept 7's logit grows with the brightness of the image's top-left quarter, where
    its CAM points: masking that region must lower its score."""

    def analyze_images(self, batch: np.ndarray) -> ConceptOutput:
        out = super().analyze_images(batch)
        h, w = batch.shape[1:3]
        corner = batch[:, : h // 2, : w // 2].mean(axis=(1, 2, 3)) / 255.0
        logits = out.logits.copy()
        logits[:, 7] = 8.0 * corner
        cams = out.cams.copy()
        k = int(np.flatnonzero(out.cam_indices[0] == 7)[0])
        cams[:, k] = 0.0
        cams[:, k, :3, :3] = 10.0  # the evidence: the top-left quarter
        bias = logits[:, 7] - cams[:, k].mean(axis=(1, 2))
        cam_bias = out.cam_bias.copy()
        cam_bias[:, k] = bias
        return replace(out, logits=logits, cams=cams, cam_bias=cam_bias)


def bright_corner_jpeg() -> bytes:
    img = Image.new("RGB", (300, 300), (10, 10, 10))
    img.paste((250, 250, 250), (0, 0, 150, 150))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_masking_a_tags_region_is_reported_and_named_in_its_justification() -> None:
    settings = replace(SETTINGS, faithfulness="sampled", faithfulness_sample=0.0)
    result = analyze(bright_corner_jpeg(), BrightCornerModel(), make_bank(), settings)
    top = result.tags[0]
    assert top.concept_id == 7
    assert set(top.faithfulness) == {"before", "after"}  # not in the measured share
    assert top.faithfulness["after"] < top.faithfulness["before"] - 0.2
    assert "Masking this region drops the score from" in top.justification


def test_measured_items_get_deletion_and_insertion_aucs_that_beat_random_order() -> None:
    settings = replace(SETTINGS, faithfulness="always", faithfulness_steps=8)
    result = analyze(bright_corner_jpeg(), BrightCornerModel(), make_bank(), settings)
    f = result.tags[0].faithfulness
    assert 0.0 <= f["deletion_auc"] < f["random_deletion_auc"] <= 1.0
    assert 1.0 >= f["insertion_auc"] > f["random_insertion_auc"] >= 0.0


def test_the_measured_share_is_decided_by_the_file_so_a_retry_decides_alike() -> None:
    settings = replace(SETTINGS, faithfulness="sampled", faithfulness_sample=0.5)
    decided = {
        bool(
            "deletion_auc"
            in analyze(bright_corner_jpeg(), BrightCornerModel(), make_bank(), settings)
            .tags[0]
            .faithfulness
        )
        for _ in range(3)
    }
    assert len(decided) == 1


def test_faithfulness_off_adds_nothing() -> None:
    result = analyze(bright_corner_jpeg(), BrightCornerModel(), make_bank(), SETTINGS)
    assert all(t.faithfulness is None for t in result.tags)
    assert "Masking" not in result.tags[0].justification


def test_the_grounded_caption_joins_the_vector_with_the_boxes_of_its_phrases() -> None:
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), SETTINGS)
    (term,) = [t for t in result.text_terms if t["kind"] == "caption"]
    assert term["text"] == result.caption.text and result.caption.phrases
    assert term["boxes"] == [list(b) for p in result.caption.phrases for b in p.evidence.boxes]
    j = result.text_terms.index(term)
    assert result.semantic.text_weights[j] > 0
    assert np.array(result.cams[f"t{j}"]).max() > 0


def test_a_caption_weight_of_zero_keeps_the_caption_out_of_the_vector() -> None:
    settings = replace(SETTINGS, caption_weight=0.0)
    result = analyze(jpeg(), FakeConceptModel(), make_bank(), settings)
    assert [t for t in result.text_terms if t["kind"] == "caption"] == []


# Every step on: faithfulness measured on every item.
ALL_ON = replace(
    SETTINGS, ocr=True, nsfw=True, explanations=True, faithfulness="always", faithfulness_steps=4
)


def seeing_a_dog() -> FakeConceptModel:
    """The fake client with the object detector finding one dog (so every step runs)."""
    from glassbox.evidence_types import ObjectDetection

    return FakeConceptModel(objects=[ObjectDetection("dog", 18, (0.1, 0.3, 0.5, 0.9), 0.9)])


def test_the_steps_run_in_their_declared_order(monkeypatch) -> None:
    ran = []

    def recorded(step):
        def run(state):
            ran.append(step.name)
            step.run(state)

        return replace(step, run=run)

    monkeypatch.setattr(pipeline, "STEPS", tuple(recorded(step) for step in STEPS))
    analyze(jpeg(), seeing_a_dog(), make_bank(), ALL_ON)
    assert ran == [step.name for step in STEPS]
    assert ran == [
        "decode",
        "concepts",
        "read text",
        "nudity detector",
        "objects",
        "object colours",
        "scores",
        "caption",
        "text terms",
        "semantic vector",
        "tags",
        "regions",
        "justifications",
        "object tags",
        "faithfulness",
        "object counterfactuals",
        "heat maps",
    ]


def test_each_step_is_timed_and_counts_towards_its_phase() -> None:
    state = ImageState(jpeg(), seeing_a_dog(), make_bank(), ALL_ON)
    timings = run_steps(STEPS, state)
    assert list(state.step_ms) == [step.name for step in STEPS]
    assert all(ms >= 0 for ms in state.step_ms.values())
    assert list(timings) == ["decode", "infer", "read", "detect", "explain"]
    for key, ms in timings.items():
        parts = [state.step_ms[step.name] for step in STEPS if step.timing == key]
        assert ms == pytest.approx(sum(parts), abs=0.01)


@pytest.mark.parametrize(
    ("off", "skipped"),
    [
        ({"ocr": False}, "read text"),
        ({"nsfw": False}, "nudity detector"),
        ({"explanations": False}, "regions"),
        ({"faithfulness": "off"}, "faithfulness"),
        ({"object_counterfactuals": 0}, "object counterfactuals"),
    ],
)
def test_a_setting_switched_off_skips_its_step(off, skipped) -> None:
    state = ImageState(jpeg(), seeing_a_dog(), make_bank(), replace(ALL_ON, **off))
    timings = run_steps(STEPS, state)
    assert list(state.step_ms) == [step.name for step in STEPS if step.name != skipped]
    assert set(timings) == {"decode", "infer", "read", "detect", "explain"}  # skipped: 0


def test_with_objects_off_their_four_steps_are_skipped() -> None:
    state = ImageState(jpeg(), seeing_a_dog(), make_bank(), replace(ALL_ON, objects=False))
    run_steps(STEPS, state)
    assert not {"objects", "object colours", "object tags", "object counterfactuals"} & set(
        state.step_ms
    )


def test_given_text_lines_skip_the_ocr_model() -> None:
    client = FakeConceptModel(lines=[TextLine("HELLO", (0, 0, 1, 1), 1.0)])
    lines = [("OPEN 24 HOURS", (0.5, 0.1, 0.9, 0.2), 0.95)]
    result = analyze(jpeg(), client, make_bank(), ALL_ON, text_lines=lines)
    assert client.read == [] and result.text_lines == lines


def test_an_exif_turned_photo_is_analysed_upright_and_reported_at_its_displayed_size() -> None:
    pixels = np.zeros((60, 120, 3), dtype=np.uint8)
    pixels[:, :60] = 255  # stored: left half white; displayed (orientation 6): top half white
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", exif=exif, quality=95)
    client = FakeConceptModel()
    result = analyze(out.getvalue(), client, make_bank(), replace(SETTINGS, image_size=64))
    assert (result.width, result.height) == (60, 120)
    (batch,) = client.calls
    top, bottom = batch[0, :24].mean(), batch[0, -24:].mean()
    assert top > 200 and bottom < 50  # the model saw the upright image
