"""Eager against traced-and-frozen torch, side by side in one run: the concept model
(MobileNetV2 with CAMs) by batch size and TransNetV2 by windows, on the threads Triton gives
them (``GLASSBOX_TORCH_THREADS`` 1, ``GLASSBOX_SHOT_TORCH_THREADS`` 2), with the largest
difference in their outputs. Each cell is the best of ``--repeats`` timed calls after one
warm-up, eager and frozen alternating.

Run:  .venv-models/bin/python bench/frozen.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services"))


def best_of(fn: Callable[[], object], repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def concept_rows(repeats: int) -> list[str]:
    import torch
    from glassbox.nn.mobilenet_v2 import load_concept_net

    torch.set_num_threads(1)
    weights = REPO / "model_repository" / "image_concepts" / "1" / "mobilenet_v2.pth"
    eager, frozen = load_concept_net(weights), load_concept_net(weights, frozen=True)
    images = np.random.default_rng(0).integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)
    rows = []
    for n in (1, 2, 4, 8, 16):
        batch = images[:n]
        a, b = eager.run(batch), frozen.run(batch)
        diff = float(np.abs(a.logits - b.logits).max())
        te = best_of(lambda batch=batch: eager.run(batch), repeats) / n * 1000
        tf = best_of(lambda batch=batch: frozen.run(batch), repeats) / n * 1000
        rows.append(
            f"| image_concepts | {n} images | {te:.1f} | {tf:.1f} | {te / tf:.2f}x | "
            f"{diff:.1e} (logits) |"
        )
    return rows


def shot_rows(repeats: int) -> list[str]:
    """TransNetV2 frozen the same way (not adopted: about the eager speed here, and its trace
    takes 20-40 s of Triton's start-up on this machine)."""
    import torch
    from glassbox.nn.transnet import WEIGHTS_FILE, ShotNet

    torch.set_num_threads(2)
    weights = REPO / "model_repository" / "shot_boundaries" / "1" / WEIGHTS_FILE
    eager = ShotNet(weights)
    windows = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (2, 100, 27, 48, 3), dtype=np.uint8)
    )
    with torch.inference_mode():
        t0 = time.perf_counter()
        frozen = torch.jit.optimize_for_inference(torch.jit.trace(eager.net, windows[:1]))
        build = time.perf_counter() - t0
        diff = float((eager.net(windows)[0] - frozen(windows)[0]).abs().max())
        te = best_of(lambda: eager.net(windows), repeats) / 2 * 1000
        tf = best_of(lambda: frozen(windows), repeats) / 2 * 1000
    # a window of 100 frames advances the clip by 50 (glassbox.video.windows)
    return [
        f"| shot_boundaries (trace and freeze {build:.0f} s) | 2 windows "
        f"({50 * 1000 / te:.0f} -> {50 * 1000 / tf:.0f} frames/s) | {te:.0f} | {tf:.0f} | "
        f"{te / tf:.2f}x | {diff:.1e} (logits) |"
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(
        "| model | batch | eager ms per item | frozen ms per item | speed-up | largest difference |"
    )
    print("|---|---|---|---|---|---|")
    for row in concept_rows(args.repeats) + shot_rows(args.repeats):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
