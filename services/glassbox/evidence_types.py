"""What the ``ocr``, ``nsfw_detector`` and ``object_detection`` models find in an image
(stdlib only).

Shared by ``glassbox.nn`` (models' environment, boxes in pixels) and
``glassbox.clients.triton`` (app environment, boxes as fractions of width and height), so the web
app and the worker can import it without torch or onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass

# NudeNet 3.4.2's labels, in its order: what the nsfw_detector model answers (glassbox.nn.nsfw)
# and what moderation policies may name (glassbox.moderation.policies).
NUDITY_LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), x0 <= x1 and y0 <= y1

# NudeNet labels that make an image explicit; the other *_EXPOSED labels (feet, armpits,
# belly, male breast) are ordinary on beach or sports photos.
EXPLICIT_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


@dataclass(frozen=True)
class TextLine:
    """One line of text read by OCR."""

    text: str
    box: Box  # pixels from glassbox.nn.ocr; fractions of width/height from InferenceClient
    score: float  # recogniser confidence in [0, 1]


@dataclass(frozen=True)
class Detection:
    """One NudeNet detection, e.g. ``FACE_FEMALE`` or ``BUTTOCKS_EXPOSED``."""

    label: str
    box: Box  # pixels from glassbox.nn.nsfw; fractions of width/height from InferenceClient
    score: float  # detector confidence in [0, 1]

    @property
    def exposed(self) -> bool:
        """Whether the label names an exposed body part (``*_EXPOSED``)."""
        return self.label.endswith("_EXPOSED")

    @property
    def explicit(self) -> bool:
        """Whether the label is one of :data:`EXPLICIT_LABELS`."""
        return self.label in EXPLICIT_LABELS


@dataclass(frozen=True)
class ObjectDetection:
    """One COCO object found by the ``object_detection`` model (SSD-MobileNetV2), e.g. ``dog``.

    ``label`` is the COCO class name of ``class_id`` (the 90-id numbering,
    ``glassbox.detection.coco_labels``)."""

    label: str
    class_id: int  # COCO 90-id numbering: 1 person, 2 bicycle, 3 car, …, 90 toothbrush
    box: Box  # pixels from glassbox.nn.ssd; fractions of width/height from InferenceClient
    score: float  # detector confidence in [0, 1]


def to_fractions(box: Box, width: int, height: int) -> Box:
    """A pixel box as fractions of the image's width and height, clipped to [0, 1]."""
    x0, y0, x1, y1 = box
    w, h = float(max(width, 1)), float(max(height, 1))

    def clip(v: float) -> float:
        return min(max(v, 0.0), 1.0)

    return (clip(x0 / w), clip(y0 / h), clip(x1 / w), clip(y1 / h))
