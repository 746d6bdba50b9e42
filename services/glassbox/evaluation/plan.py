"""What a run does and what it collects: the :class:`Plan` (how much of each section to run,
``--quick`` or the full report), the seed every random choice starts from, and the
:class:`Report` the sections fill in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEED = 0
BOTTLENECK_CS = (0.003, 0.01, 0.03, 0.1, 0.3)  # the concept bottleneck's sweep of C (section 1)


@dataclass(frozen=True)
class Plan:
    """How much of each part to run."""

    fashion_train: int = 5000
    fashion_val: int = 1000
    fashion_test: int = 2000
    fashion_size: int = 112
    faithfulness_photos: int | None = None  # None: the whole retrieval corpus
    faithfulness_steps: int = 50
    bottleneck_cs: tuple[float, ...] = BOTTLENECK_CS
    similarity_photos: int | None = None  # None: the whole retrieval corpus
    tone_photos: int | None = None  # greyscale / sepia copies (section 6); None: all named

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            fashion_train=400,
            fashion_val=200,
            fashion_test=300,
            fashion_size=64,
            faithfulness_photos=3,
            faithfulness_steps=10,
            bottleneck_cs=(0.03, 0.3),
            similarity_photos=4,
            tone_photos=2,
        )


@dataclass
class Report:
    results: dict[str, Any] = field(default_factory=dict)
    markdown: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
