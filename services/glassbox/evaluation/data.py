"""The data the report reads: the judged corpus and annotations in ``eval_data/``, the sample
photos, and Fashion-MNIST (Debian ``dataset-fashion-mnist``) in seeded subsets."""

from __future__ import annotations

import gzip
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


def read_photo(path: str | Path) -> Image.Image:
    return decode_rgb(Path(path).read_bytes())


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
