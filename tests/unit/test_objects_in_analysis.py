"""Detected objects in the analysis (glassbox.analysis.objects, glassbox.explain.object_caption),
against the real concept bank and a fake client: object captions with counts, colours and
layout, every phrase boxed; detector tags in the classifier's hierarchy, merged where both
models see the same thing; the box counterfactual; object phrases as search terms."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from glassbox.analysis import objects as detected
from glassbox.analysis.evidence import TagEvidence
from glassbox.analysis.pipeline import analyze
from glassbox.analysis.state import ImageState
from glassbox.concepts import ConceptBank
from glassbox.config import Settings
from glassbox.detection.colour import RegionColour
from glassbox.detection.objects import ObjectEvidence, object_evidence
from glassbox.evidence_types import ObjectDetection
from glassbox.explain.object_caption import compose_object_caption
from PIL import Image

from tests.unit.test_pipeline import FakeConceptModel, jpeg, make_bank

PERSON, BICYCLE, DOG, KITE = 1, 2, 18, 38


@pytest.fixture(scope="module")
def bank() -> ConceptBank:
    path = Settings().concept_bank_path
    if not path.exists():
        pytest.fail(f"{path} is missing: run infra/bin/setup")
    return ConceptBank.load(path)


def found(class_id: int, box, score: float, label: str = "") -> ObjectDetection:
    return ObjectDetection(label=label, class_id=class_id, box=tuple(box), score=score)


def red(share: float = 0.7) -> RegionColour:
    return RegionColour(
        {"red": share, "grey": 1 - share}, {"red": (200, 30, 30)}, 500, "colour", "red"
    )


def test_a_single_object_with_a_clear_colour_is_named_by_it_and_each_phrase_is_boxed(bank):
    (bike,) = object_evidence([found(BICYCLE, (0.2, 0.2, 0.7, 0.8), 0.97)], bank)
    caption = compose_object_caption([bike], {BICYCLE: red()})
    assert caption.text == "A red bicycle."
    kinds = {p.label: p.kind for p in caption.phrases}
    assert kinds == {"red": "colour", "bicycle": "concept"}
    assert all(p.evidence.boxes == ((0.2, 0.2, 0.7, 0.8),) for p in caption.phrases)


def test_counts_come_from_separate_boxes_and_a_crowd_is_many(bank):
    people = object_evidence(
        [found(PERSON, (0.1 * i, 0.5, 0.1 * i + 0.08, 0.9), 0.9) for i in range(3)], bank
    )
    caption = compose_object_caption(people)
    assert caption.text == "Three people."
    (count, noun) = caption.phrases
    assert (count.kind, count.label, len(count.evidence.boxes)) == ("count", "Three", 3)
    crowd = object_evidence(
        [
            found(PERSON, (0.05 * i, 0.05 * (i % 4), 0.05 * i + 0.04, 0.05 * (i % 4) + 0.2), 0.8)
            for i in range(15)
        ],
        bank,
    )
    assert compose_object_caption(crowd).text == "Many people."


def test_two_objects_are_placed_and_a_third_follows(bank):
    objects = object_evidence(
        [
            found(DOG, (0.05, 0.4, 0.3, 0.95), 0.9),
            found(KITE, (0.65, 0.05, 0.8, 0.2), 0.8),
            found(BICYCLE, (0.55, 0.5, 0.95, 0.95), 0.95),
        ],
        bank,
    )
    caption = compose_object_caption(objects)
    assert caption.text.startswith("A bicycle ")  # the most salient: large and sure
    assert ", with a kite." in caption.text
    assert any(p.kind == "position" for p in caption.phrases)
    for p in caption.phrases:
        assert caption.text[p.start : p.end] == p.label and p.evidence.boxes


def test_no_object_means_no_object_caption():
    assert compose_object_caption([]) is None


class DetectingModel(FakeConceptModel):
    """The fake classifier (its logits padded to the real bank's leaves) with an object
    detector that sees a dog on the left and forgets it once its box is masked."""

    def __init__(self, n_leaves: int) -> None:
        super().__init__()
        self.n_leaves = n_leaves

    def embed_texts(self, texts) -> np.ndarray:
        e = np.random.default_rng(len(texts)).normal(size=(len(texts), 384)).astype(np.float32)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def analyze_images(self, batch):
        out = super().analyze_images(batch)
        logits = np.full((out.logits.shape[0], self.n_leaves), -10.0, np.float32)
        logits[:, : out.logits.shape[1]] = out.logits
        return replace(out, logits=logits)

    def detect_objects(self, image: np.ndarray) -> list[ObjectDetection]:
        h, w = image.shape[:2]
        patch = image[int(0.3 * h) : int(0.9 * h), int(0.05 * w) : int(0.4 * w)]
        masked = float(patch.std()) < 1.0  # the counterfactual fills the box with one colour
        return [] if masked else [found(DOG, (0.05, 0.3, 0.4, 0.9), 0.88)]


def textured_jpeg() -> bytes:
    rng = np.random.default_rng(3)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def test_a_detected_object_becomes_a_boxed_tag_with_its_counterfactual(bank):
    settings = replace(Settings(), faithfulness="off", ocr=False, nsfw=False, tag_threshold=0.9)
    analysis = analyze(textured_jpeg(), DetectingModel(bank.n_leaves), bank, settings)
    (dog,) = [t for t in analysis.tags if t.source in ("detector", "both")]
    assert dog.name == "dog" and bank.names[dog.concept_id] == "dog"
    assert dog.detections[0]["box"] == [0.05, 0.3, 0.4, 0.9]
    assert "Masking the box drops the detector's score from 88% to 0%" in dog.justification
    assert dog.faithfulness["detector"] == {"before": 0.88, "after": 0.0}
    assert analysis.caption.text == "A dog."
    assert analysis.objects[0]["name"] == "dog" and analysis.objects[0]["count"] == 1
    (term,) = [t for t in analysis.text_terms if t["kind"] == "object"]
    assert term["text"] == "dog" and term["boxes"] == [[0.05, 0.3, 0.4, 0.9]]


def test_with_objects_off_the_detector_is_never_called(bank):
    class Refusing(FakeConceptModel):
        def detect_objects(self, image):
            raise AssertionError("called")

    settings = replace(Settings(), faithfulness="off", objects=False, ocr=False, nsfw=False)
    analysis = analyze(jpeg(), Refusing(), make_bank(), settings)
    assert analysis.objects == [] and all(t.source == "classifier" for t in analysis.tags)


def test_a_classifier_tag_under_the_detected_concept_gains_the_box(bank):
    eskimo = bank.names.index("Eskimo dog")
    tag = TagEvidence(
        eskimo, "Eskimo dog", "n0", 0.6, [[0.0] * 7] * 7, (0.0, 0.3, 0.4, 0.9), "sure"
    )
    state = ImageState(b"", None, bank, Settings())
    state.tags = [tag]
    state.objects = object_evidence([found(DOG, (0.05, 0.3, 0.4, 0.9), 0.88)], bank)
    state.cam_of = {eskimo: np.zeros((7, 7), np.float32)}
    detected.object_tags(state)
    (merged,) = state.tags
    assert merged.source == "both" and merged.concept_id == eskimo  # one tag, two evidences
    assert "where the heat map is" in merged.justification
    far = replace(tag, box=(0.7, 0.0, 1.0, 0.2))
    state.tags = [far]
    detected.object_tags(state)
    assert "but not where the heat map is" in state.tags[0].justification


def test_object_phrases_carry_counts_and_clear_colours(bank):
    state = ImageState(b"", None, bank, Settings())
    state.objects = [
        *object_evidence([found(BICYCLE, (0.2, 0.2, 0.7, 0.8), 0.97)], bank),
        *object_evidence(
            [found(PERSON, (0.1 * i, 0.5, 0.1 * i + 0.08, 0.9), 0.9) for i in range(2)], bank
        ),
    ]
    state.colours = {BICYCLE: red()}
    texts = [t for t, _b, _s in detected.object_phrases(state)]
    assert texts == ["red bicycle", "2 people"]
    assert isinstance(state.objects[0], ObjectEvidence)


def test_a_person_is_never_called_by_a_colour_but_a_bicycle_is():
    """A person's box holds clothes, skin and hair: a vivid blue coat does not make "a blue
    person". A bicycle in the same blue is "a blue bicycle"."""
    image = np.full((200, 300, 3), 128, np.uint8)
    image[60:180, 20:120] = (30, 60, 210)  # the person's coat
    image[60:180, 180:280] = (30, 60, 210)  # the bicycle
    state = ImageState(b"", None, None, Settings())
    state.image = Image.fromarray(image)
    state.objects = object_evidence(
        [
            found(PERSON, (0.05, 0.28, 0.42, 0.92), 0.9, "person"),
            found(BICYCLE, (0.58, 0.28, 0.95, 0.92), 0.9, "bicycle"),
        ],
        None,
        size=(300, 200),
    )
    detected.measure_colours(state)
    assert state.colours[BICYCLE].name == "blue"
    assert state.colours[PERSON].name is None and state.colours[PERSON].shares["blue"] > 0.5
    phrases = {text for text, _, _ in detected.object_phrases(state)}
    assert phrases == {"person", "blue bicycle"}


def test_above_and_below_only_for_things_in_the_air(bank):
    """vtest.avi's street: people low in the frame, a car parked higher up. On the ground,
    higher in the frame is farther: "in front of", not "below". Kites over the beach stay
    "above"."""
    CAR = 3
    street = object_evidence(
        [
            found(PERSON, (0.30, 0.55, 0.36, 0.80), 0.9),
            found(PERSON, (0.45, 0.60, 0.52, 0.88), 0.9),
            found(PERSON, (0.60, 0.50, 0.66, 0.75), 0.9),
            found(CAR, (0.40, 0.05, 0.60, 0.22), 0.8),
        ],
        bank,
    )
    text = compose_object_caption(street).text
    assert text in ("Three people in front of a car.", "A car behind three people."), text
    beach = object_evidence(
        [
            found(KITE, (0.40, 0.05, 0.50, 0.15), 0.9),
            found(KITE, (0.70, 0.10, 0.80, 0.20), 0.9),
            found(PERSON, (0.10, 0.60, 0.20, 0.90), 0.8),
            found(PERSON, (0.25, 0.62, 0.33, 0.92), 0.8),
        ],
        bank,
    )
    assert compose_object_caption(beach).text in (
        "Two kites above two people.",
        "Two people below two kites.",
    )


class TwoObjectsModel(DetectingModel):
    """A dog on the left and a bicycle on the right, each forgotten once its box is masked."""

    BOXES = {DOG: (0.05, 0.3, 0.4, 0.9), BICYCLE: (0.55, 0.3, 0.95, 0.9)}

    def detect_objects(self, image: np.ndarray) -> list[ObjectDetection]:
        h, w = image.shape[:2]
        seen = []
        for class_id, (x0, y0, x1, y1) in self.BOXES.items():
            patch = image[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
            if float(patch.std()) >= 1.0:  # the counterfactual fills the box with one colour
                seen.append(found(class_id, (x0, y0, x1, y1), 0.9 if class_id == DOG else 0.8))
        return seen

    def detect_objects_many(self, images) -> list[list[ObjectDetection]]:
        self.batches = [*getattr(self, "batches", []), len(images)]
        return super().detect_objects_many(images)


@pytest.mark.parametrize("most", [0, 1, 2, 5])
def test_the_box_counterfactuals_of_an_image_go_in_one_request(bank, most):
    settings = replace(
        Settings(),
        faithfulness="off",
        ocr=False,
        nsfw=False,
        tag_threshold=0.9,
        object_counterfactuals=most,
    )
    model = TwoObjectsModel(bank.n_leaves)
    analysis = analyze(textured_jpeg(), model, bank, settings)
    boxed = [t for t in analysis.tags if t.source in ("detector", "both")]
    assert {t.name for t in boxed} == {"dog", "bicycle"}
    tested = [t for t in boxed if "detector" in (t.faithfulness or {})]
    assert len(tested) == min(most, 2)
    for t in tested:  # each masked on its own: the other object is still seen
        assert t.faithfulness["detector"]["after"] == 0.0
        assert "Masking the box drops the detector's score" in t.justification
    # every masked copy in one request, none when none is wanted
    assert getattr(model, "batches", []) == ([min(most, 2)] if most else [])
