"""Ingest throughput: images per second, measured two ways, side by side in one run.

1. Through one real Celery worker (``--concurrency`` processes, default 2): N uploads are
   queued while the worker is stopped, then the worker starts and the clock runs until every
   item is ``ready`` (analysis, database writes, Milvus upsert), for each configuration of
   :data:`CONFIGS`: all evidence on, then one costly stage off at a time (the object detector,
   explanations).
   Redis, the Milvus Lite server and Triton run as in the demo; the database is SQLite.

2. The analysis stage alone: what a Celery worker does per item (decode, preprocess, Triton
``image_concepts``, tags with CAM regions and justifications, the ConSE semantic vector), run
by a pool of worker processes like Celery's prefork pool, against a real Triton started here.
The same configurations are measured side by side in one run, with Triton's dynamic
batching on, and all evidence on with it off.

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

# (label, Settings fields changed): all evidence on, then one costly stage off at a time
CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("all evidence", {}),
    ("object detector off", {"objects": False}),
    ("explanations off", {"explanations": False}),
]

_state: dict = {}


def env_of(changes: dict[str, object]) -> dict[str, str]:
    """The worker's environment for Settings changes: ``{"objects": False}`` ->
    ``{"GLASSBOX_OBJECTS": "0"}``."""
    out = {}
    for name, value in changes.items():
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        out[f"GLASSBOX_{name.upper()}"] = text
    return out


def _init(url: str, changes: dict[str, object]) -> None:
    from glassbox.clients.triton import InferenceClient
    from glassbox.concepts import ConceptBank

    settings = replace(get_settings(), triton_url=url, **changes)
    _state.update(
        client=InferenceClient(url, timeout=60),
        bank=ConceptBank.load(settings.concept_bank_path),
        settings=settings,
    )


def _analyze(data: bytes) -> dict[str, float]:
    from glassbox.analysis.pipeline import analyze

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


def run_config(url: str, images: list[bytes], processes: int, changes: dict) -> dict:
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(url, changes)) as pool:
        list(pool.map(_analyze, images[: processes * 2]))  # warm-up: clients, model caches
        t0 = time.perf_counter()
        timings = list(pool.map(_analyze, images))
        wall = time.perf_counter() - t0
    keys = sorted({k for t in timings for k in t})
    phase = {k: statistics.mean(t.get(k, 0.0) for t in timings) for k in keys}
    return {"ips": len(images) / wall, "wall": wall, **{f"ms_{k}": v for k, v in phase.items()}}


def median_run(results: list[dict]) -> dict:
    """The run with the median throughput (its stage means with it)."""
    return sorted(results, key=lambda r: r["ips"])[len(results) // 2]


def run_worker(stack: Stack, photos: list[bytes], n: int, concurrency: int) -> list[tuple]:
    """Table 1: uploads queued first, then one worker drains them; returns rows."""
    import os

    var = stack.var_dir
    os.environ.update(
        stack.app_env()
        | {
            "GLASSBOX_DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
            "GLASSBOX_SECRET_KEY": "bench-only",
            "GLASSBOX_MILVUS_COLLECTION": "bench_ingest",
            "DJANGO_SETTINGS_MODULE": "glassbox_web.settings",
        }
    )
    sys.path.insert(0, str(REPO / "web"))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from media.actions.commands import create_media
    from media.models import MediaItem

    call_command("migrate", "--noinput", verbosity=0)
    owner = get_user_model().objects.create_user("bench", password="bench-password")
    rows = []
    for label, changes in CONFIGS:
        ids = [
            create_media(owner, SimpleUploadedFile(f"p{i}.jpg", photos[i % len(photos)])).pk
            for i in range(n)
        ]
        worker = stack.worker(env_of(changes), concurrency=concurrency)
        start(worker)
        t0 = time.perf_counter()
        try:
            pending = MediaItem.objects.filter(pk__in=ids).exclude(status__in=["ready", "failed"])
            while pending.exists():
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError("items still pending after 600 s")
                time.sleep(0.05)
            wall = time.perf_counter() - t0
        finally:
            stop(worker)
        failed = MediaItem.objects.filter(pk__in=ids, status="failed").count()
        rows.append((label, n / wall, wall, failed))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument(
        "--processes", type=int, default=2, help="worker pool processes (Celery --concurrency)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of the analysis-stage table"
    )
    args = ap.parse_args()
    if not SAMPLES:
        print("sample photos missing: apt-get install darknet", file=sys.stderr)
        return 2
    photos = [p.read_bytes() for p in SAMPLES]
    images = [photos[i % len(photos)] for i in range(args.images)]
    stack = Stack(var_dir=REPO / "var" / "bench", ports=BENCH_PORTS)
    shutil.rmtree(stack.var_dir, ignore_errors=True)
    services = [stack.redis(), stack.milvus(), stack.triton()]
    for svc in services:
        start(svc)
    try:
        worker_rows = run_worker(stack, photos, args.images, args.processes)
    finally:
        for svc in reversed(services):
            stop(svc)
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
            configs = CONFIGS if batching else CONFIGS[:1]
            runs: dict[str, list[dict]] = {label: [] for label, _ in configs}
            for _ in range(args.rounds):  # configurations alternate: noise hits them all
                for label, changes in configs:
                    url = f"127.0.0.1:{BENCH_PORTS.triton}"
                    runs[label].append(run_config(url, images, args.processes, changes))
            for label, results in runs.items():
                rows.append((batching, label, median_run(results)))
        finally:
            stop(svc)
    print(
        f"\nIngest through one Celery worker (--concurrency {args.processes}), {args.images} "
        "uploads queued before it starts; SQLite, Milvus Lite server, Triton on CPU with "
        "dynamic batching\n"
    )
    print("| configuration | images/s | wall s | ms per image | failed | vs all evidence |")
    print("|---|---|---|---|---|---|")
    for label, ips, wall, failed in worker_rows:
        print(
            f"| {label} | {ips:.2f} | {wall:.1f} | {1000 / ips:.0f} | {failed} | "
            f"{ips / worker_rows[0][1]:.2f}x |"
        )
    base = rows[0][2]["ips"]
    print(
        f"\nAnalysis stage alone, {args.images} images ({len(photos)} darknet photos cycled), "
        f"{args.processes} worker processes, Triton on CPU; the median of {args.rounds} "
        "alternating rounds\n"
    )
    keys = sorted({k for _, _, r in rows for k in r if k.startswith("ms_")})
    print(
        "| dynamic batching | configuration | images/s | ms per image | vs all evidence | "
        + " | ".join(f"mean {k[3:]} ms" for k in keys)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(keys))
    for batching, label, r in rows:
        print(
            f"| {'on' if batching else 'off'} | {label} | {r['ips']:.2f} | "
            f"{1000 / r['ips']:.0f} | {r['ips'] / base:.2f}x | "
            + " | ".join(f"{r.get(k, 0.0):.1f}" for k in keys)
            + " |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
