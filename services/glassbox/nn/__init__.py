"""Torch models behind the Triton models (used only in the models' environment)."""

from __future__ import annotations

import os

import torch


def configure_threads(threads: int | None = None) -> int:
    """Use the CPUs this process may run on (affinity/cgroup aware) unless told otherwise."""
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    threads = max(1, threads)
    torch.set_num_threads(threads)
    return threads
