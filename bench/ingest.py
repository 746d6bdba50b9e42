"""Ingest throughput: images per second through the worker's analysis stage.

What is timed is what a Celery worker does per item (decode, preprocess, Triton
``image_concepts``, tags with CAM regions and justifications, the ConSE semantic vector), run
by a pool of worker processes like Celery's prefork pool, against a real Triton started here.
Four configurations are measured side by side in one run:

  explanations on/off  x  Triton dynamic batching on/off

Run:  .venv/bin/python bench/ingest.py [--images 64] [--processes 2]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "services")]

from glassbox.config import get_settings  # noqa: E402
from glassbox_launch.process import start, stop  # noqa: E402
from glassbox_launch.stack import Ports, Stack  # noqa: E402

SAMPLES = sorted(Path("/usr/share/darknet/data").glob("*.jpg"))
BENCH_PORTS = Ports(redis=26380, triton=28100, milvus=28530, web=28000)

_state: dict = {}


def _init(url: str, explanations: bool) -> None:
    from glassbox.concepts import ConceptBank
    from glassbox.inference import InferenceClient

    settings = replace(get_settings(), triton_url=url, explanations=explanations)
    _state.update(
        client=InferenceClient(url, timeout=60),
        bank=ConceptBank.load(settings.concept_bank_path),
        settings=settings,
    )


def _analyze(data: bytes) -> dict[str, float]:
    from glassbox.pipeline import analyze

    return analyze(data, _state["client"], _state["bank"], _state["settings"]).timings


def no_batching_repository(dst: Path) -> Path:
    """A copy of the model repository whose configs have no dynamic_batching block."""
    src = REPO / "model_repository"
    shutil.rmtree(dst, ignore_errors=True)
    for model in src.iterdir():
        if not (model / "config.pbtxt").exists():
            continue
        (dst / model.name).mkdir(parents=True)
        config = (model / "config.pbtxt").read_text()
        config = re.sub(r"dynamic_batching\s*\{[^}]*\}", "", config)
        (dst / model.name / "config.pbtxt").write_text(config)
        (dst / model.name / "1").symlink_to(model / "1", target_is_directory=True)
    return dst


def run_config(url: str, images: list[bytes], processes: int, explanations: bool) -> dict:
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(url, explanations)) as pool:
        list(pool.map(_analyze, images[: processes * 2]))  # warm-up: clients, model caches
        t0 = time.perf_counter()
        timings = list(pool.map(_analyze, images))
        wall = time.perf_counter() - t0
    phase = {k: statistics.mean(t[k] for t in timings) for k in timings[0]}
    return {"ips": len(images) / wall, "wall": wall, **{f"ms_{k}": v for k, v in phase.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument(
        "--processes", type=int, default=2, help="worker pool processes (Celery --concurrency)"
    )
    args = ap.parse_args()
    if not SAMPLES:
        print("sample photos missing: apt-get install darknet", file=sys.stderr)
        return 2
    photos = [p.read_bytes() for p in SAMPLES]
    images = [photos[i % len(photos)] for i in range(args.images)]
    stack = Stack(var_dir=REPO / "var" / "bench", ports=BENCH_PORTS)
    rows = []
    for batching in (True, False):
        svc = stack.triton()
        if not batching:
            repo = no_batching_repository(REPO / "build" / "bench-repo-nobatch")
            svc.argv = [
                a if not a.startswith("--model-repository=") else f"--model-repository={repo}"
                for a in svc.argv
            ]
        start(svc)
        try:
            for explanations in (True, False):
                r = run_config(
                    f"127.0.0.1:{BENCH_PORTS.triton}", images, args.processes, explanations
                )
                rows.append((batching, explanations, r))
        finally:
            stop(svc)
    base = rows[0][2]["ips"]
    print(
        f"\nIngest, {args.images} images ({len(photos)} darknet sample photos cycled), "
        f"{args.processes} worker processes, Triton image_concepts on CPU\n"
    )
    keys = [k for k in rows[0][2] if k.startswith("ms_")]
    print(
        "| dynamic batching | explanations | images/s | vs batching+explanations | "
        + " | ".join(f"mean {k[3:]} ms" for k in keys)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(keys))
    for batching, explanations, r in rows:
        print(
            f"| {'on' if batching else 'off'} | {'on' if explanations else 'off'} | "
            f"{r['ips']:.1f} | {r['ips'] / base:.2f}x | "
            + " | ".join(f"{r[k]:.1f}" for k in keys)
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
