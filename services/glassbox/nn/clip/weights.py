"""Preparing a clip-profile repository: CLIP and BLIP placed, the concept bank encoded by CLIP.
``infra/bin/fetch-clip-weights`` and the tests' tiny repositories both go through
:func:`place_weights`."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from glassbox.concepts import ConceptBank
from glassbox.nn.clip.captioner import BLIP_SUBDIR
from glassbox.nn.clip.encoder import (
    CLIP_SUBDIR,
    CONCEPT_BANK_FILE,
    CONCEPT_PROMPT,
    ClipEncoder,
    MissingWeights,
    require_model_dir,
)

CLIP_HOME = Path("image_concepts") / "1" / CLIP_SUBDIR  # the one real copy of CLIP
CLIP_LINKS = (Path("text_embedding") / "1" / CLIP_SUBDIR, Path("caption") / "1" / CLIP_SUBDIR)
BLIP_HOME = Path("caption") / "1" / BLIP_SUBDIR
BANK_HOME = Path("image_concepts") / "1" / CONCEPT_BANK_FILE
CLIP_HUB_ID = "openai/clip-vit-base-patch32"
BLIP_HUB_ID = "Salesforce/blip-image-captioning-base"
BANK_SUFFIX = "clip"


def clip_concept_bank(clip: ClipEncoder, source: ConceptBank, batch_size: int = 256) -> ConceptBank:
    """The same concepts (rows, names, hierarchy) as ``source``, embedded by CLIP's text tower
    from ``"a photo of a {name}."``, so ConSE vectors and queries share CLIP's text space."""
    texts = [CONCEPT_PROMPT.format(name=name) for name in source.names]
    parts = [clip.encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return replace(
        source,
        embeddings=np.concatenate(parts).astype(np.float32),
        version=f"{source.version}+{BANK_SUFFIX}-{clip.dim}d",
    )


def source_concept_bank(offline_bank: Path | str | None = None) -> ConceptBank:
    """The offline profile's bank (names, glosses, hierarchy), placed by ``glassbox.tools.prepare``;
    without it, the bare ImageNet classes from Debian's darknet labels (no broader concepts)."""
    from glassbox import concepts

    if offline_bank is not None and Path(offline_bank).is_file():
        return ConceptBank.load(offline_bank)
    if not (concepts.IMAGENET_LABELS.is_file() and concepts.IMAGENET_NAMES.is_file()):
        raise MissingWeights(
            f"no concept bank at {offline_bank} and no darknet labels in {concepts.DARKNET_DATA}:"
            " run `python -m glassbox.tools.prepare` (models' env) or install Debian's darknet"
        )
    classes = concepts.read_imagenet_classes(concepts.IMAGENET_LABELS, concepts.IMAGENET_NAMES)
    return ConceptBank(
        wnids=tuple(w for w, _ in classes),
        names=tuple(n for _, n in classes),
        glosses=("",) * len(classes),
        embeddings=np.zeros((len(classes), 1), dtype=np.float32),
        version="imagenet1k-names",
    )


def _copy_dir(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".cache", "*.lock", ".git*"))
    if dst.is_symlink() or dst.is_file():
        dst.unlink()
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def _link_dir(target: Path, link: Path) -> None:
    """``link`` → ``target`` as a relative symlink (a copy where links are not possible)."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    shutil.rmtree(link, ignore_errors=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    except OSError:
        shutil.copytree(target, link)


def place_weights(
    repository: Path | str,
    clip_src: Path | str,
    blip_src: Path | str,
    offline_bank: Path | str | None = None,
) -> ConceptBank:
    """Copy CLIP and BLIP into a clip-profile Triton repository and encode its concept bank.

    CLIP lives once in ``image_concepts/1/clip``; ``text_embedding/1/clip`` and
    ``caption/1/clip`` link to it. BLIP goes to ``caption/1/blip``. The concept bank
    (``image_concepts/1/concept_bank.npz``) is ``offline_bank`` re-embedded by CLIP. The
    fetch script and the tiny test builder both call this, so tests exercise the real path."""
    repository = Path(repository)
    clip_src, blip_src = require_model_dir(Path(clip_src), "CLIP"), Path(blip_src)
    require_model_dir(blip_src, "BLIP")
    (repository / CLIP_HOME).parent.mkdir(parents=True, exist_ok=True)
    if (repository / CLIP_HOME).resolve() != clip_src.resolve():
        _copy_dir(clip_src, repository / CLIP_HOME)
    for link in CLIP_LINKS:
        _link_dir(repository / CLIP_HOME, repository / link)
    if (repository / BLIP_HOME).resolve() != blip_src.resolve():
        _copy_dir(blip_src, repository / BLIP_HOME)
    clip = ClipEncoder(repository / CLIP_HOME, parts=("text",))
    bank = clip_concept_bank(clip, source_concept_bank(offline_bank))
    tmp = repository / BANK_HOME.with_name(CONCEPT_BANK_FILE + ".tmp")
    bank.save(tmp)
    tmp.replace(repository / BANK_HOME)
    return bank

