"""The plain records search works on: what one item offers to be matched, and what "find
similar" starts from.

The web layer builds them from its rows (``web/search/records.py``), in one place; scoring and
explanation (``glassbox.retrieval.scoring``, ``glassbox.retrieval.explanation``) read only
these fields. ``item`` is the caller's own object for the record (the web layer's row): it is
carried to the result untouched and never read here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TextTerm:
    """A text mixed into the semantic vector (a read line, or the caption)."""

    text: str
    weight: float
    embedding: Sequence[float]
    box: Sequence[float] = ()  # where it is, (x0, y0, x1, y1) as fractions
    kind: str = ""  # "caption", "object" (a detected object's phrase); a read line otherwise

    @property
    def label(self) -> str:
        """How it reads in an explanation: the read line, or the caption, quoted."""
        prefix = {"caption": "the caption ", "object": "the object "}.get(self.kind, "")
        return f"{prefix}“{self.text}”"


@dataclass(frozen=True)
class CaptionPhrase:
    """A phrase of the grounded caption and the boxes of the region it names."""

    text: str
    boxes: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class TextLine:
    """A line of text read in the image, with its box (empty if it has none)."""

    text: str
    box: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ItemRecord:
    """An item as search sees it."""

    id: int
    created: dt.datetime
    semantic: np.ndarray  # float32 [d], the ConSE vector: sum(weights[i] * E[concept_ids[i]])
    appearance: np.ndarray  # float32, unit length (empty if none was stored)
    concept_ids: Sequence[int]
    weights: Sequence[float]
    text_terms: Sequence[TextTerm] = ()  # the texts the vector also mixes
    caption: str = ""
    caption_phrases: Sequence[CaptionPhrase] = ()
    text_lines: Sequence[TextLine] = ()
    item: object = None  # the caller's object, carried to the result
    shot: int | None = None  # a moment of a video: the window's number ...
    start_s: float = 0.0  # ... and its time range
    end_s: float = 0.0

    @property
    def ocr_text(self) -> str:
        """All the text read in the image, one line per line."""
        return "\n".join(line.text for line in self.text_lines)


@dataclass(frozen=True)
class Source:
    """What "find similar" starts from: an indexed item, or an analysed upload."""

    description: str
    semantic: np.ndarray
    appearance: np.ndarray
    concept_ids: list[int]
    weights: list[float]
    item: object = None  # the caller's object for an indexed item; None for an upload
