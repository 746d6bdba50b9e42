"""What a video's analysis stored per shot: its time range, cut, keyframe and evidence.

A shot (or each window of a long shot) is analysed like an image (its keyframe goes through
the same steps), so a ``Shot`` holds the same evidence as an item: tags with CAMs, the caption
and its phrases, read lines, detections, the semantic and appearance vectors. The video's own
tags aggregate its shots in time (``Tag.instances``). A shot whose ``analyzed_at`` is set is a
checkpoint: a redelivered task goes on from the first shot not yet analysed.
"""

from __future__ import annotations

import uuid

import numpy as np
from django.db import models

from .items import MediaItem


def keyframe_path(instance: Shot, filename: str) -> str:
    return f"keyframes/{uuid.uuid4().hex}.jpg"


class Shot(models.Model):
    """One unit of a video's analysis: a detected shot, or a window of a long shot (each with
    its own keyframe). ``index`` numbers the units, ``shot_number`` the detected shots; the
    first unit of each shot carries the cut that starts it."""

    item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="shots")
    index = models.PositiveIntegerField()
    shot_number = models.PositiveIntegerField(default=0)
    start_s = models.FloatField()
    end_s = models.FloatField()
    start_frame = models.PositiveIntegerField()
    end_frame = models.PositiveIntegerField(help_text="exclusive")
    cut_probability = models.FloatField(
        null=True, blank=True, help_text="the shot detector's peak at the cut that starts it"
    )
    cut_curve = models.JSONField(
        default=dict, blank=True, help_text="{times, probabilities} around the cut"
    )
    keyframe = models.FileField(upload_to=keyframe_path, max_length=255, blank=True)
    keyframe_s = models.FloatField(null=True, blank=True)
    keyframe_blank = models.BooleanField(default=False)
    # The keyframe's analysis (the same evidence as an image's)
    tags = models.JSONField(
        default=list, blank=True, help_text="[{concept_id, name, score, box, justification}]"
    )
    cams = models.JSONField(default=dict, blank=True, help_text="{concept_id: 7x7 map}")
    caption = models.TextField(blank=True)
    caption_phrases = models.JSONField(default=list, blank=True)
    text_lines = models.JSONField(default=list, blank=True)
    nsfw = models.JSONField(default=list, blank=True)
    vector = models.BinaryField(blank=True, default=b"")
    concept_ids = models.JSONField(default=list, blank=True)
    weights = models.JSONField(default=list, blank=True)
    appearance = models.BinaryField(blank=True, default=b"")
    text_terms = models.JSONField(default=list, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item", "index"]
        constraints = [
            models.UniqueConstraint(fields=["item", "index"], name="media_shot_unique_index")
        ]

    def __str__(self) -> str:
        return f"shot {self.index} of {self.item_id} ({self.start_s:.2f}-{self.end_s:.2f} s)"

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def vector_array(self) -> np.ndarray:
        return np.frombuffer(bytes(self.vector or b""), dtype="<f4")

    def appearance_array(self) -> np.ndarray:
        raw = np.frombuffer(bytes(self.appearance or b""), dtype="<f4").astype(np.float32)
        norm = float(np.linalg.norm(raw)) if raw.size else 0.0
        return raw / norm if norm > 0 else raw
