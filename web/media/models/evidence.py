"""What analysis found in an item: tags with their evidence, and its semantic profile."""

from __future__ import annotations

import numpy as np
from django.db import models

from .items import MediaItem


class Tag(models.Model):
    item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="tags")
    concept_id = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    wnid = models.CharField(max_length=16, blank=True)
    score = models.FloatField()
    box = models.JSONField(null=True, blank=True, help_text="(x0, y0, x1, y1) as fractions")
    cam = models.JSONField(help_text="7x7 class activation map")
    justification = models.TextField(blank=True)
    contributing_concepts = models.JSONField(default=list, blank=True)
    path = models.JSONField(
        default=list, blank=True, help_text='broader concepts above it: ["animal", "dog"]'
    )
    faithfulness = models.JSONField(
        null=True,
        blank=True,
        help_text="before/after masking the region; deletion/insertion AUCs when measured",
    )
    rank = models.PositiveSmallIntegerField()
    source = models.CharField(
        max_length=12,
        default="classifier",
        help_text="classifier (CAM), detector (boxes) or both",
    )
    detections = models.JSONField(
        default=list, blank=True, help_text="the object detector's boxes: [{box, score}]"
    )
    instances = models.JSONField(
        default=list,
        blank=True,
        help_text="video: where it is seen, [{start, end, confidence, shot, keyframe}]",
    )

    class Meta:
        ordering = ["item", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["item", "rank"], name="media_tag_unique_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.score:.2f})"


class SemanticProfile(models.Model):
    """The item's ConSE vector, the concepts it mixes, and their CAMs. Never exposed raw."""

    item = models.OneToOneField(
        MediaItem, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    vector = models.BinaryField(help_text="float32 little-endian")
    concept_ids = models.JSONField(default=list)
    weights = models.JSONField(default=list)
    cams = models.JSONField(default=dict, help_text="{concept_id: 7x7 map}")
    appearance = models.BinaryField(blank=True, default=b"")
    text_terms = models.JSONField(
        default=list,
        blank=True,
        help_text="read lines in the vector: [{text, box, weight, embedding}]",
    )

    def vector_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector), dtype="<f4")

    def appearance_array(self) -> np.ndarray:
        """The pooled backbone features scaled to unit length (empty if none were stored)."""
        raw = np.frombuffer(bytes(self.appearance or b""), dtype="<f4").astype(np.float32)
        norm = float(np.linalg.norm(raw)) if raw.size else 0.0
        return raw / norm if norm > 0 else raw

    def cam_for(self, concept_id: int | str) -> list[list[float]] | None:
        """The stored map of a concept id, or of read text ``"t<index>"``."""
        return self.cams.get(str(concept_id))
