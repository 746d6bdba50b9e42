"""The moderation step in the analysis (glassbox.analysis.flags) against fake models that
"see" only what is drawn: flags with their evidence in ``Analysis.flags``, counterfactuals that
mask the evidence and ask the same model again (the classifier in one batch), no extra model
call without a hit, ``policies=()`` switching moderation off, and concept maps in ``cams``."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from glassbox.analysis.pipeline import analyze
from glassbox.evidence_types import Detection, ObjectDetection, TextLine
from glassbox.moderation.policies import Policy, Signal
from PIL import Image

from tests.unit.test_pipeline import (
    N_CONCEPTS,
    SETTINGS,
    BrightCornerModel,
    FakeConceptModel,
    bright_corner_jpeg,
    make_bank,
)

TEXT_BOX = (0.1, 0.1, 0.5, 0.3)
BODY_BOX = (0.6, 0.1, 0.9, 0.5)
KNIFE_BOX = (0.2, 0.6, 0.7, 0.9)
KNIFE = 49  # COCO's 90-id numbering


def drawn(*boxes, size=(300, 200)) -> bytes:
    """A white PNG with a dark, striped block in each box: something a fake model can see."""
    width, height = size
    pixels = np.full((height, width, 3), 255, dtype=np.uint8)
    for x0, y0, x1, y1 in boxes:
        rows = slice(int(y0 * height), int(y1 * height))
        cols = slice(int(x0 * width), int(x1 * width))
        pixels[rows, cols] = 30
        pixels[rows, cols][::3] = 200
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def visible(image: np.ndarray, box) -> bool:
    """Whether the block in ``box`` is still there (not filled with one colour)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    part = image[int(y0 * h) + 1 : int(y1 * h) - 1, int(x0 * w) + 1 : int(x1 * w) - 1]
    return part.size > 0 and float(part.std()) > 5.0


class SeeingModel(FakeConceptModel):
    """Reads a phone number, finds an exposed breast and detects a knife where their blocks
    are drawn, and only while they are visible."""

    def __init__(self) -> None:
        super().__init__()
        self.nsfw_calls: list[np.ndarray] = []
        self.object_calls: list[np.ndarray] = []

    def read_text(self, image):
        self.read.append(image)
        return [TextLine("call 555 0134", TEXT_BOX, 0.93)] if visible(image, TEXT_BOX) else []

    def detect_nsfw(self, image):
        self.nsfw_calls.append(image)
        found = [Detection("FACE_FEMALE", (0.0, 0.0, 0.05, 0.05), 0.8)]
        if visible(image, BODY_BOX):
            found.append(Detection("FEMALE_BREAST_EXPOSED", BODY_BOX, 0.91))
        return found

    def detect_objects(self, image):
        self.object_calls.append(image)
        if visible(image, KNIFE_BOX):
            return [ObjectDetection("knife", KNIFE, KNIFE_BOX, 0.83)]
        return []


def policy(slug: str, *signals: Signal, flag_at=0.5, hide_at=0.9) -> Policy:
    return Policy(slug, slug, "For a test.", tuple(signals), flag_at, hide_at, "restrict")


PERSONAL = policy("personal-data", Signal("text", patterns=("phone", "email", "card")))
NUDITY = policy("explicit-nudity", Signal("nudity", labels=("FEMALE_BREAST_EXPOSED",)))
WEAPONS = policy("weapons", Signal("object", labels=("knife",)), hide_at=0.8)


def by_policy(result) -> dict[str, dict]:
    return {f["policy"]: f for f in result.flags}


def test_each_kind_is_flagged_with_its_evidence_and_a_counterfactual_that_drops_it() -> None:
    client = SeeingModel()
    data = drawn(TEXT_BOX, BODY_BOX, KNIFE_BOX)
    result = analyze(data, client, make_bank(), SETTINGS, policies=[PERSONAL, NUDITY, WEAPONS])
    flags = by_policy(result)
    assert list(flags) == ["personal-data", "explicit-nudity", "weapons"]
    text = flags["personal-data"]
    assert text["rule"] == "personal-data: phone number “555 0134” read at 0.93 ≥ 0.50"
    assert text["hide"] is True  # 0.93 >= 0.9
    assert text["evidence"][0]["box"] == list(TEXT_BOX)
    assert text["evidence"][0]["text"] == "call 555 0134"
    assert text["counterfactual"] == {
        "before": 0.93,
        "after": 0.0,
        "masked": 1,
        "text": "masking this region drops the score from 0.93 to 0.00",
    }
    body = flags["explicit-nudity"]
    assert body["rule"] == "explicit-nudity: FEMALE_BREAST_EXPOSED 0.91 ≥ 0.50"
    assert [e["label"] for e in body["evidence"]] == ["FEMALE_BREAST_EXPOSED"]
    assert (body["counterfactual"]["before"], body["counterfactual"]["after"]) == (0.91, 0.0)
    knife = flags["weapons"]
    assert knife["evidence"][0]["box"] == list(KNIFE_BOX) and knife["hide"] is True
    assert (knife["counterfactual"]["before"], knife["counterfactual"]["after"]) == (0.83, 0.0)
    # one more call of each model, one per hit, on the evidence image
    assert len(client.read) == 2 and len(client.nsfw_calls) == 2 and len(client.object_calls) == 2
    masked = client.read[1]
    assert not visible(masked, TEXT_BOX) and visible(masked, BODY_BOX)  # only its own evidence
    assert len(client.calls) == 1  # no policy reads concepts: the classifier is not asked again


def test_without_a_hit_no_model_is_asked_again() -> None:
    client = SeeingModel()
    result = analyze(drawn(), client, make_bank(), SETTINGS, policies=[PERSONAL, NUDITY, WEAPONS])
    assert result.flags == []
    assert len(client.read) == len(client.nsfw_calls) == len(client.object_calls) == 1
    assert len(client.calls) == 1


def test_an_empty_tuple_switches_moderation_off() -> None:
    client = SeeingModel()
    result = analyze(
        drawn(TEXT_BOX, BODY_BOX, KNIFE_BOX), client, make_bank(), SETTINGS, policies=()
    )
    assert result.flags == []
    assert len(client.read) == len(client.nsfw_calls) == len(client.object_calls) == 1


def test_the_default_policies_apply_when_none_are_given() -> None:
    result = analyze(drawn(TEXT_BOX, BODY_BOX), SeeingModel(), make_bank(), SETTINGS)
    assert {f["policy"] for f in result.flags} == {"personal-data", "explicit-nudity"}


def test_below_flag_at_there_is_no_flag_and_at_hide_at_the_item_hides() -> None:
    strict = replace(PERSONAL, flag_at=0.95, hide_at=0.95)
    assert (
        analyze(drawn(TEXT_BOX), SeeingModel(), make_bank(), SETTINGS, policies=[strict]).flags
        == []
    )
    lenient = replace(PERSONAL, flag_at=0.5, hide_at=0.95)
    (hit,) = analyze(
        drawn(TEXT_BOX), SeeingModel(), make_bank(), SETTINGS, policies=[lenient]
    ).flags
    assert hit["hide"] is False


def test_given_read_lines_without_ocr_are_flagged_but_cannot_be_read_again() -> None:
    client = SeeingModel()
    lines = [TextLine("mail jane@example.org", TEXT_BOX, 0.97)]
    settings = replace(SETTINGS, ocr=False)
    (hit,) = analyze(
        drawn(), client, make_bank(), settings, text_lines=lines, policies=[PERSONAL]
    ).flags
    assert hit["evidence"][0]["label"] == "email"
    assert hit["counterfactual"]["after"] is None
    assert "OCR is off" in hit["counterfactual"]["text"]
    assert client.read == []


def test_a_concept_policy_masks_the_cam_region_and_asks_the_classifier_again() -> None:
    # concept 7's logit grows with the brightness of the top-left quarter, where its CAM is
    client = BrightCornerModel()
    concept7 = policy("seven", Signal("concept", labels=("n00000007",)), flag_at=0.3)
    result = analyze(bright_corner_jpeg(), client, make_bank(), SETTINGS, policies=[concept7])
    (hit,) = result.flags
    (e,) = hit["evidence"]
    assert (e["kind"], e["concept"], e["label"]) == ("concept", 7, "concept 7")
    x0, y0, x1, y1 = e["box"]
    assert x1 <= 0.6 and y1 <= 0.6  # the top-left quarter
    assert e["concept"] in result.cams
    cf = hit["counterfactual"]
    assert cf["before"] == pytest.approx(hit["score"]) and cf["after"] < cf["before"] - 0.2
    assert len(client.calls) == 2 and client.calls[1].shape[0] == 1


def test_every_hits_masked_copy_goes_to_the_classifier_in_one_batch() -> None:
    client = BrightCornerModel()
    policies = [
        policy("seven", Signal("concept", labels=("n00000007",)), flag_at=0.3),
        policy("seven-or-three", Signal("concept", labels=("n00000040",)), flag_at=0.3),
    ]
    result = analyze(bright_corner_jpeg(), client, make_bank(), SETTINGS, policies=policies)
    assert [f["policy"] for f in result.flags] == ["seven", "seven-or-three"]
    assert len(client.calls) == 2 and client.calls[1].shape[0] == 2


def test_a_concept_outside_the_tags_gets_its_map_and_one_without_a_map_has_no_region() -> None:
    bank = make_bank()
    # concept 30 is one of the model's 16 mapped classes, but neither a tag nor in the ConSE mix
    mapped = policy("thirty", Signal("concept", labels=("n00000030",)), flag_at=0.001)
    # the broader concept N_CONCEPTS + 1 groups two leaves outside the 16 mapped classes
    unmapped = policy(
        "outside", Signal("concept", labels=(f"n{N_CONCEPTS + 1:08d}",)), flag_at=0.001
    )
    plain = analyze(drawn(), FakeConceptModel(), bank, SETTINGS, policies=())
    assert 30 not in plain.cams
    result = analyze(drawn(), FakeConceptModel(), bank, SETTINGS, policies=[mapped, unmapped])
    thirty, outside = result.flags
    assert thirty["evidence"][0]["concept"] == 30 and 30 in result.cams
    assert thirty["evidence"][0]["box"] is not None
    assert np.array(result.cams[30]).shape == (7, 7)
    assert outside["evidence"][0]["box"] is None and N_CONCEPTS + 1 not in result.cams
    assert outside["counterfactual"]["after"] is None
    assert (
        outside["counterfactual"]["text"] == "no counterfactual: the evidence has no region to mask"
    )


def test_the_moderation_step_is_timed_as_explanation() -> None:
    from glassbox.analysis.pipeline import run_steps
    from glassbox.analysis.state import ImageState
    from glassbox.analysis.steps import MODERATION, STEPS

    state = ImageState(drawn(TEXT_BOX), SeeingModel(), make_bank(), SETTINGS, policies=(PERSONAL,))
    timings = run_steps((*STEPS, MODERATION), state)
    assert list(state.step_ms)[-1] == "moderation"  # after every step of the analysis
    assert "moderation" in state.step_ms and set(timings) == {
        "decode",
        "infer",
        "read",
        "detect",
        "explain",
    }
    assert [h.policy.slug for h in state.flags] == ["personal-data"]
