"""The versions an item's analysis was made with, and their fingerprint.

An item records ``{"analysis": ANALYSIS_VERSION, "concept_bank": <the bank's version>,
"models": {<Triton model>: <its version>}}``; the dashboard lists the ready items whose
fingerprint differs from the current one, and reprocesses them (``web/media/reprocess.py``).

**Bump ``ANALYSIS_VERSION`` by hand** whenever a change to the analysis steps
(``glassbox.analysis``, ``glassbox.explain``, ``glassbox.detection``, the video's stages in
``web/media/video_work.py``, or what ``web/media/actions/persistence.py`` stores) changes what
is stored for an item: every item analysed before it then shows as analysed by an older
version. The models' versions come from Triton's model repository index and the bank's from
the bank file, so a new model version or concept bank needs no bump.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from glassbox.clients.triton import IMAGE_MODEL, NSFW_MODEL, OBJECT_MODEL, OCR_MODEL, TEXT_MODEL

ANALYSIS_VERSION = "13.1"

# The Triton models whose outputs an item's stored analysis is made of (an image's, and
# every keyframe's of a video). ``shot_boundaries`` is not one: a reprocess re-analyses a
# video's windows but keeps its cuts, which the moderation flags point into.
ANALYSIS_MODELS = (IMAGE_MODEL, TEXT_MODEL, OCR_MODEL, NSFW_MODEL, OBJECT_MODEL)

FINGERPRINT_LENGTH = 16


def versions(concept_bank: str, models: Mapping[str, str]) -> dict[str, Any]:
    """The versions dict stored on an item: the analysis', the bank's, and those of the
    :data:`ANALYSIS_MODELS` (a model missing from ``models`` raises ``KeyError``: an
    analysis cannot have run without it)."""
    return {
        "analysis": ANALYSIS_VERSION,
        "concept_bank": str(concept_bank),
        "models": {name: str(models[name]) for name in ANALYSIS_MODELS},
    }


def fingerprint(recorded: Mapping[str, Any]) -> str:
    """A short canonical digest of a versions dict: sha256 of its sorted, compact JSON,
    the first 16 hex digits. Equal dicts give equal fingerprints, whatever their key order."""
    canonical = json.dumps(recorded, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:FINGERPRINT_LENGTH]
