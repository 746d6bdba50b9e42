"""The concept bank: ImageNet-1k classes named, glossed (WordNet 3.0) and embedded.

Numpy only, so the web app and the worker (numpy 2, no torch) can load the bank that the
prepare step builds in the models' environment. Building needs an ``encode`` callable
(``glassbox.nn.text_encoder.TextEncoder.encode``) passed in, which keeps torch out of here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DARKNET_DATA = Path("/usr/share/darknet/data")  # Debian package darknet
IMAGENET_LABELS = DARKNET_DATA / "imagenet.labels.list"
IMAGENET_NAMES = DARKNET_DATA / "imagenet.shortnames.list"
WORDNET_DATA_NOUN = Path("/usr/share/wordnet/data.noun")  # Debian package wordnet-base
NUM_IMAGENET_CLASSES = 1000
BANK_VERSION = "imagenet1k-wn30-minilm-l6-v2-1"


@dataclass(frozen=True, eq=False)
class ConceptBank:
    """Row ``i`` describes ImageNet class ``i`` in torchvision's order."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    glosses: tuple[str, ...]
    embeddings: np.ndarray  # float32 [n, dim], rows of unit length, read-only
    version: str

    def __post_init__(self):
        n = len(self.wnids)
        if not (len(self.names) == len(self.glosses) == n):
            raise ValueError("wnids, names and glosses must have the same length")
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n:
            raise ValueError(f"embeddings {self.embeddings.shape} do not match {n} concepts")
        emb = np.array(self.embeddings, dtype=np.float32)  # own, read-only copy
        emb.flags.writeable = False
        object.__setattr__(self, "embeddings", emb)

    def __len__(self) -> int:
        return len(self.wnids)

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def name(self, i: int) -> str:
        return self.names[i]

    def text(self, i: int) -> str:
        return concept_text(self.names[i], self.glosses[i])

    def save(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # a file object keeps numpy from appending ".npz"
            np.savez(
                fh,
                wnids=np.array(self.wnids, dtype="U9"),
                names=np.array(self.names, dtype=str),
                glosses=np.array(self.glosses, dtype=str),
                embeddings=self.embeddings,
                version=np.array(self.version, dtype=str),
            )

    @classmethod
    def load(cls, path: Path | str) -> ConceptBank:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls(
                wnids=tuple(str(s) for s in data["wnids"]),
                names=tuple(str(s) for s in data["names"]),
                glosses=tuple(str(s) for s in data["glosses"]),
                embeddings=data["embeddings"],
                version=str(data["version"]),
            )


def read_imagenet_classes(
    labels_path: Path | str = IMAGENET_LABELS, names_path: Path | str = IMAGENET_NAMES
) -> list[tuple[str, str]]:
    """``(wnid, name)`` of the ILSVRC-1k classes, sorted by wnid (= torchvision's order).

    darknet's lists hold all 21k ImageNet synsets; the first 1000 lines are ILSVRC-1k.
    """
    wnids = Path(labels_path).read_text(encoding="utf-8").splitlines()[:NUM_IMAGENET_CLASSES]
    names = Path(names_path).read_text(encoding="utf-8").splitlines()[:NUM_IMAGENET_CLASSES]
    if len(wnids) != NUM_IMAGENET_CLASSES or len(names) != NUM_IMAGENET_CLASSES:
        raise ValueError(f"{labels_path} / {names_path} hold fewer than 1000 classes")
    classes = sorted(zip((w.strip() for w in wnids), (n.strip() for n in names), strict=True))
    if len({w for w, _ in classes}) != NUM_IMAGENET_CLASSES:
        raise ValueError(f"{labels_path}: duplicate wnids among the first 1000 lines")
    return classes


def read_glosses(data_noun_path: Path | str, wnids: Iterable[str]) -> dict[str, str]:
    """First clause of each synset's WordNet gloss (the text after ``| `` up to the first ``;``).

    A wnid ``n02099601`` is the noun at offset ``02099601`` in WordNet 3.0's ``data.noun``.
    """
    wanted = {w[1:]: w for w in wnids}
    glosses: dict[str, str] = {}
    with Path(data_noun_path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            offset = line[:8]
            if offset in wanted and "| " in line:
                gloss = line.split("| ", 1)[1]
                glosses[wanted[offset]] = gloss.split(";", 1)[0].strip()
    missing = sorted(set(wanted.values()) - glosses.keys())
    if missing:
        raise ValueError(f"{data_noun_path}: no gloss for {len(missing)} wnids, e.g. {missing[:3]}")
    return glosses


def concept_text(name: str, gloss: str) -> str:
    return f"{name}: {gloss}"


def concept_texts(classes: Sequence[tuple[str, str]], glosses: dict[str, str]) -> list[str]:
    """``"{name}: {gloss}"`` per class, the text each concept is embedded from."""
    return [concept_text(name, glosses[wnid]) for wnid, name in classes]


def build_concept_bank(
    classes: Sequence[tuple[str, str]],
    glosses: dict[str, str],
    encode: Callable[[list[str]], np.ndarray],
    version: str = BANK_VERSION,
    batch_size: int = 128,
) -> ConceptBank:
    """Embed every class's text with ``encode`` (which must return unit-length float32 rows)."""
    texts = concept_texts(classes, glosses)
    parts = [encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return ConceptBank(
        wnids=tuple(w for w, _ in classes),
        names=tuple(n for _, n in classes),
        glosses=tuple(glosses[w] for w, _ in classes),
        embeddings=np.concatenate(parts).astype(np.float32),
        version=version,
    )
