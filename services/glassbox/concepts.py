"""The concept bank: ImageNet-1k classes named, glossed (WordNet 3.0) and embedded, plus the
broader concepts above them (their WordNet hypernyms: dog, bird, vehicle, food, …).

Rows ``0..999`` are the ImageNet classes (the *leaves*) in torchvision's order; the rows after
them are broader concepts. ``members[h]`` marks the leaves under broader concept
``1000 + h``, so a broader concept's probability is the sum of its leaves' probabilities.
Pruning rule (by size, not by a stop-list): a hypernym is kept when it covers at least 2 and
at most 40% of the leaves. That drops "entity", "physical entity", "object", "whole",
"artifact" and "organism", and keeps "animal", "dog", "vehicle", "food", "instrument", ….

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
WORDNET_COUNTS = Path("/usr/share/wordnet/cntlist.rev")  # sense frequencies in SemCor
NUM_IMAGENET_CLASSES = 1000
BANK_VERSION = "imagenet1k-wn30-hypernyms-minilm-l6-v2-4"
BROADER_MIN_LEAVES = 2
BROADER_MAX_SHARE = 0.4


@dataclass(frozen=True, eq=False)
class ConceptBank:
    """Row ``i < n_leaves`` is ImageNet class ``i`` (torchvision's order); later rows are
    broader concepts, whose leaves ``members`` marks."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    glosses: tuple[str, ...]
    embeddings: np.ndarray  # float32 [n, dim], rows of unit length, read-only
    version: str
    members: np.ndarray | None = None  # bool [n - n_leaves, n_leaves]; None: no broader rows
    frequency: np.ndarray | None = None  # int [n], how often people use the concept's words
    synonyms: tuple[str, ...] | None = None  # per concept, WordNet's words joined by "; "

    def __post_init__(self):
        n = len(self.wnids)
        if not (len(self.names) == len(self.glosses) == n):
            raise ValueError("wnids, names and glosses must have the same length")
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n:
            raise ValueError(f"embeddings {self.embeddings.shape} do not match {n} concepts")
        emb = np.array(self.embeddings, dtype=np.float32)  # own, read-only copy
        emb.flags.writeable = False
        object.__setattr__(self, "embeddings", emb)
        members = np.zeros((0, n), dtype=bool) if self.members is None else self.members
        members = np.array(members, dtype=bool)
        if members.ndim != 2 or members.shape[0] + members.shape[1] != n:
            raise ValueError(f"members {members.shape} do not fit {n} concepts")
        members.flags.writeable = False
        object.__setattr__(self, "members", members)
        freq = np.zeros(n, dtype=np.int64) if self.frequency is None else self.frequency
        freq = np.array(freq, dtype=np.int64)
        if freq.shape != (n,):
            raise ValueError(f"frequency {freq.shape} does not match {n} concepts")
        freq.flags.writeable = False
        object.__setattr__(self, "frequency", freq)
        synonyms = tuple(self.names) if self.synonyms is None else tuple(self.synonyms)
        if len(synonyms) != n:
            raise ValueError(f"{len(synonyms)} synonym lists for {n} concepts")
        object.__setattr__(self, "synonyms", synonyms)

    def synonyms_of(self, i: int) -> list[str]:
        """Every word WordNet has for concept ``i``: ["dog", "domestic dog", "Canis familiaris"]."""
        return [w for w in self.synonyms[i].split("; ") if w]

    def parents(self, i: int) -> list[int]:
        """The nearest broader concepts above ``i``: those containing it with no other
        containing concept in between."""
        own = self.members[:, i] if self.is_leaf(i) else None
        if own is None:
            mine = self.members[i - self.n_leaves]
            sizes = self.members.sum(axis=1)
            own = self.members[:, mine].all(axis=1) & (sizes > mine.sum())
        rows = np.flatnonzero(own)
        sets = self.members[rows]
        return [
            int(self.n_leaves + r)
            for k, r in enumerate(rows)
            if not any(
                j != k and (sets[j] <= sets[k]).all() and sets[j].sum() < sets[k].sum()
                for j in range(len(rows))
            )
        ]

    def ancestors(self, i: int) -> list[int]:
        """Every kept broader concept that contains concept ``i`` (not ``i`` itself)."""
        if self.is_leaf(i):
            rows = np.flatnonzero(self.members[:, i])
        else:
            own = self.members[i - self.n_leaves]
            rows = np.flatnonzero(
                self.members[:, own].all(axis=1) & (self.members.sum(axis=1) > own.sum())
            )
        return [int(self.n_leaves + r) for r in rows]

    def find(self, word: str) -> list[int]:
        """Concepts named ``word`` (a name or a WordNet synonym, any case), leaves first."""
        key = " ".join(word.lower().replace("_", " ").split())
        if not key:
            return []
        lookup = getattr(self, "_lookup", None)
        if lookup is None:
            lookup = {}
            for i in range(len(self)):
                for name in [str(self.names[i]), *self.synonyms_of(i)]:
                    lookup.setdefault(" ".join(name.lower().split()), []).append(i)
            object.__setattr__(self, "_lookup", lookup)
        return list(dict.fromkeys(lookup.get(key, [])))

    @property
    def n_leaves(self) -> int:
        return int(self.members.shape[1])

    def is_leaf(self, i: int) -> bool:
        return i < self.n_leaves

    def broader_probs(self, leaf_probs: np.ndarray) -> np.ndarray:
        """Probability of each broader concept: the sum of its leaves' probabilities."""
        return self.members.astype(np.float64) @ np.asarray(leaf_probs, dtype=np.float64)

    def path(self, i: int, depth: int = 2) -> list[int]:
        """Broader concepts to show above concept ``i``, most general first: "animal › dog".

        Of all the leaf's kept hypernyms, the ``depth`` most used words win (WordNet's
        SemCor counts: "dog" 42, "animal" 67, "mammal" 3, "canine" 0), because the names
        people use most are the basic-level categories; ties (17 leaves, such as the
        mushrooms, have no counted hypernym at all) go to the broader concept.
        """
        if self.is_leaf(i):
            rows = np.flatnonzero(self.members[:, i])
        else:  # the broader concepts that strictly contain this one
            own = self.members[i - self.n_leaves]
            rows = np.flatnonzero(
                (self.members[:, own].all(axis=1)) & (self.members.sum(axis=1) > own.sum())
            )
        sizes = self.members[rows].sum(axis=1)
        ranked = sorted(
            zip(rows, sizes, strict=True),
            key=lambda rs: (-self.frequency[self.n_leaves + rs[0]], -rs[1]),
        )[:depth]
        return [int(self.n_leaves + r) for r, _ in sorted(ranked, key=lambda rs: -rs[1])]

    def leaves_of(self, i: int) -> np.ndarray:
        """Leaf ids under concept ``i`` (``[i]`` for a leaf)."""
        if self.is_leaf(i):
            return np.array([i], dtype=np.int64)
        return np.flatnonzero(self.members[i - self.n_leaves])

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
                members=self.members,
                frequency=self.frequency,
                synonyms=np.array(self.synonyms, dtype=str),
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
                members=data["members"] if "members" in data.files else None,
                frequency=data["frequency"] if "frequency" in data.files else None,
                synonyms=tuple(str(v) for v in data["synonyms"])
                if "synonyms" in data.files
                else None,
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


@dataclass(frozen=True)
class Synset:
    words: tuple[str, ...]
    hypernyms: tuple[str, ...]  # offsets of direct hypernyms (``@`` and instance ``@i``)
    gloss: str  # first clause

    @property
    def name(self) -> str:
        return self.words[0].replace("_", " ")


def read_wordnet_nouns(data_noun_path: Path | str = WORDNET_DATA_NOUN) -> dict[str, Synset]:
    """Every noun synset of WordNet 3.0's ``data.noun``, keyed by its 8-digit offset."""
    nouns: dict[str, Synset] = {}
    with Path(data_noun_path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("  ") or "| " not in line:
                continue  # the licence header
            head, gloss = line.split("| ", 1)
            f = head.split()
            n_words = int(f[3], 16)
            words = tuple(f[4 + 2 * k] for k in range(n_words))
            at = 4 + 2 * n_words
            hypernyms = []
            for k in range(int(f[at])):
                symbol, offset, pos = f[at + 1 + 4 * k : at + 4 + 4 * k]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(offset)
            nouns[f[0]] = Synset(words, tuple(hypernyms), gloss.split(";", 1)[0].strip())
    return nouns


def concept_frequencies(
    wnids: Sequence[str],
    data_noun_path: Path | str = WORDNET_DATA_NOUN,
    counts_path: Path | str = WORDNET_COUNTS,
) -> np.ndarray:
    """How often each concept's words were used in WordNet's sense-tagged corpus (SemCor):
    the sum, over the synset's words, of that word-sense's count in ``cntlist.rev``."""
    counts: dict[str, int] = {}
    with Path(counts_path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            key, _sense, count = line.split()
            counts[key] = int(count)
    wanted = {w[1:] for w in wnids}
    keys: dict[str, list[str]] = {}
    with Path(data_noun_path).open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            offset = line[:8]
            if offset not in wanted:
                continue
            f = line.split()
            lex_file = int(f[1])
            n_words = int(f[3], 16)
            keys[offset] = [
                f"{f[4 + 2 * k].lower()}%1:{lex_file:02d}:{int(f[5 + 2 * k], 16):02d}::"
                for k in range(n_words)
            ]
    return np.array(
        [sum(counts.get(k, 0) for k in keys.get(w[1:], [])) for w in wnids], dtype=np.int64
    )


def concept_synonyms(wnids: Sequence[str], nouns: dict[str, Synset]) -> list[str]:
    """WordNet's words for each concept, readable and joined by "; " (the bank's format)."""
    return [
        "; ".join(w.replace("_", " ") for w in nouns[w[1:]].words) if w[1:] in nouns else ""
        for w in wnids
    ]


def broader_concepts(
    leaf_wnids: Sequence[str],
    nouns: dict[str, Synset],
    min_leaves: int = BROADER_MIN_LEAVES,
    max_share: float = BROADER_MAX_SHARE,
) -> list[tuple[str, str, str, np.ndarray]]:
    """``(wnid, name, gloss, leaf mask)`` of the hypernyms kept by the pruning rule, sorted by
    wnid. Every ancestor counts, through every path up the hierarchy."""
    ancestors: list[set[str]] = []
    for wnid in leaf_wnids:
        seen: set[str] = set()
        todo = list(nouns[wnid[1:]].hypernyms)
        while todo:
            offset = todo.pop()
            if offset not in seen:
                seen.add(offset)
                todo.extend(nouns[offset].hypernyms)
        ancestors.append(seen)
    leaves_under: dict[str, list[int]] = {}
    for leaf, seen in enumerate(ancestors):
        for offset in seen:
            leaves_under.setdefault(offset, []).append(leaf)
    leaf_offsets = {w[1:] for w in leaf_wnids}
    kept = []
    for offset in sorted(leaves_under):
        leaves = leaves_under[offset]
        if offset in leaf_offsets:
            continue  # an ImageNet class that is also a hypernym stays a leaf
        if min_leaves <= len(leaves) <= max_share * len(leaf_wnids):
            mask = np.zeros(len(leaf_wnids), dtype=bool)
            mask[leaves] = True
            kept.append((f"n{offset}", nouns[offset].name, nouns[offset].gloss, mask))
    return kept


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
    broader: Sequence[tuple[str, str, str, np.ndarray]] = (),
    frequency: np.ndarray | None = None,
    synonyms: Sequence[str] | None = None,
) -> ConceptBank:
    """Embed every concept's text with ``encode`` (which must return unit-length float32 rows):
    the classes first, then the ``broader`` concepts (see :func:`broader_concepts`)."""
    rows = [(w, n, glosses[w]) for w, n in classes] + [(w, n, g) for w, n, g, _ in broader]
    texts = [concept_text(n, g) for _, n, g in rows]
    parts = [encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    members = np.array([m for *_, m in broader], dtype=bool).reshape(len(broader), len(classes))
    if frequency is None:
        frequency = np.zeros(len(rows), dtype=np.int64)
    return ConceptBank(
        wnids=tuple(w for w, _, _ in rows),
        names=tuple(n for _, n, _ in rows),
        glosses=tuple(g for _, _, g in rows),
        embeddings=np.concatenate(parts).astype(np.float32),
        version=version,
        members=members,
        frequency=frequency,
        synonyms=None if synonyms is None else tuple(synonyms),
    )
