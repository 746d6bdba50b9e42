"""The data the report reads: the judged corpus and annotations in ``eval_data/``, the sample
photos, and Fashion-MNIST (Debian ``dataset-fashion-mnist``) in seeded subsets.

A photo in ``eval_data`` is a path (Debian's darknet and opencv-doc packages) or
``"skimage:<file>"`` / ``"sklearn:<file>"``: an image that scikit-image's or scikit-learn's wheel
ships in its data folder, found where the package is installed (:func:`photo_path`)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

from glassbox.evaluation.plan import SEED, Plan
from glassbox.media.imaging import decode_rgb

EVAL_DATA = Path(__file__).resolve().parent / "eval_data"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)


# "package:" prefixes of eval_data's photo names: (importable package, data folder inside it)
PACKAGE_PHOTOS = {"skimage": ("skimage", "data"), "sklearn": ("sklearn", "datasets/images")}


def photo_path(name: str | Path) -> Path:
    """The file of a photo named in ``eval_data``: a path as it is, or ``"skimage:<file>"`` /
    ``"sklearn:<file>"`` inside that package's data folder (the package is not imported)."""
    text = str(name)
    prefix, sep, rest = text.partition(":")
    if not sep or prefix not in PACKAGE_PHOTOS:
        return Path(text)
    package, folder = PACKAGE_PHOTOS[prefix]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{text}: the package {package} is not installed here (requirements/models.txt,"
            " installed by infra/bin/setup)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / folder / rest


def load_json(name: str) -> dict:
    """An ``eval_data`` file."""
    return json.loads((EVAL_DATA / name).read_text(encoding="utf-8"))


def load_corpus() -> list[Path]:
    """The judged corpus of ``queries.json``, as files."""
    return [photo_path(p) for p in load_json("queries.json")["corpus"]]


def read_photo(path: str | Path) -> Image.Image:
    return decode_rgb(photo_path(path).read_bytes())


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzip-compressed, as a uint8 array."""
    data = gzip.decompress(path.read_bytes())
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    n_dims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(dims)


def fashion_split(plan: Plan) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Seeded random subsets: train and validation from the training file, test from t10k."""
    rng = np.random.default_rng(SEED)
    x_train = read_idx(FASHION_DIR / "train-images-idx3-ubyte.gz")
    y_train = read_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    x_test = read_idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    chosen = rng.choice(len(x_train), plan.fashion_train + plan.fashion_val, replace=False)
    train, val = chosen[: plan.fashion_train], chosen[plan.fashion_train :]
    test = rng.choice(len(x_test), plan.fashion_test, replace=False)
    return {
        "train": (x_train[train], y_train[train]),
        "val": (x_train[val], y_train[val]),
        "test": (x_test[test], y_test[test]),
    }
