"""The torch and ONNX models behind the Triton models (used only in the models' environment).

``mobilenet_v2`` (concepts and CAMs), ``text_encoder`` (MiniLM), ``ocr`` (PP-OCR), ``nsfw``
(NudeNet), ``transnet/`` (TransNetV2, shot boundaries), ``ssd`` (SSD-MobileNetV2, COCO objects)
and ``clip/`` (the clip profile's CLIP and BLIP); this module holds what they share:
the thread setting, the instance's device and tokenisation.

``GLASSBOX_TORCH_THREADS`` (int ≥ 1) sets torch's intra-op thread count in the Triton models;
unset or empty, they use every CPU the process may run on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glassbox.config import ConfigError

# torch is imported inside the functions that need it: the ONNX models (ocr, nsfw_detector)
# read the thread setting from here too, and need not pay torch's ~190 MB and seconds.

THREADS_ENV = "GLASSBOX_TORCH_THREADS"


def _threads_from_env(name: str = THREADS_ENV) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ConfigError(f"{name}={raw!r} is not an integer ≥ 1")
    return threads


SHOT_THREADS_ENV = "GLASSBOX_SHOT_TORCH_THREADS"


def shot_threads() -> int:
    """Threads of the shot detector: ``GLASSBOX_SHOT_TORCH_THREADS``, else two (at most the
    CPUs). It runs once per video, before its keyframes, so it may use more than the one
    thread the image models get; TransNetV2 went from 2.2 s to 0.6 s a window with two."""
    threads = _threads_from_env(SHOT_THREADS_ENV)
    if threads is not None:
        return threads
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(2, cpus))


def configure_threads(threads: int | None = None) -> int:
    """Set torch's thread count: ``threads`` if given, else ``GLASSBOX_TORCH_THREADS``, else
    the CPUs this process may run on (affinity/cgroup aware)."""
    if threads is None:
        threads = _threads_from_env()
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    threads = max(1, threads)
    import torch

    torch.set_num_threads(threads)
    return threads


def instance_device(args: Mapping[str, str]) -> str:
    """The torch device for a Triton model instance, from ``initialize``'s ``args``:
    ``cuda:<model_instance_device_id>`` for a GPU instance, else cpu.

    A GPU instance whose torch sees no CUDA device (the CPU wheel, a driver mismatch) fails
    here: run on the CPU, it would be reported by Triton as a GPU instance and every GPU
    figure measured on it would be a CPU figure."""
    import torch

    if args.get("model_instance_kind") != "GPU":
        return "cpu"
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"KIND_GPU instance (device {args.get('model_instance_device_id')}), but torch "
            f"{torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device: install "
            "torch's CUDA build or configure the model with KIND_CPU"
        )
    return f"cuda:{args['model_instance_device_id']}"


def tokenize(tokenizer: Any, texts: Sequence[str], max_tokens: int, device: Any) -> Any:
    """``texts`` through a transformers tokenizer, padded to the longest and truncated at
    ``max_tokens``, as torch tensors on ``device``."""
    batch = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    )
    return batch.to(device)


def require_file(path: Path, what: str, package: str) -> Path:
    """``path`` if it is a file; else a ``FileNotFoundError`` naming the package to install."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} missing (pip install {package})")
    return path
