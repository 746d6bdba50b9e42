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

Beside each end-to-end figure it prints **the models' own throughput**: the compute time a
full analysis spends inside Triton per image (compute input + infer + output, summed over the
models, from Triton's statistics before and after the run), its inverse in images/s, and the
ratio of end to end over it. A last table breaks the all-evidence run down per model: calls,
batches Triton formed, mean batch size, queue and compute time.

Run:  .venv/bin/python bench/ingest.py [--images 64] [--processes 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path


def _repo() -> Path:
    """The checkout measured: ``--repo PATH`` (``bench/compare.py`` passes a worktree of an
    older commit; its services, workers and models are the ones that run), else this one."""
    if "--repo" in sys.argv[1:-1]:
        return Path(sys.argv[sys.argv.index("--repo") + 1]).resolve()
    return Path(__file__).resolve().parents[1]


REPO = _repo()
sys.path[:0] = [str(REPO / "infra"), str(REPO / "services")]

from glassbox.config import get_settings  # noqa: E402
from glassbox_launch.process import start, stop  # noqa: E402
from glassbox_launch.stack import Ports, Stack  # noqa: E402

SAMPLES = sorted(Path("/usr/share/darknet/data").glob("*.jpg"))
QUERIES_JSON = REPO / "services" / "glassbox" / "evaluation" / "eval_data" / "queries.json"
VIDEOS = [
    Path("/usr/share/doc/opencv-doc/examples/data") / n for n in ("Megamind.avi", "vtest.avi")
]
# eval_data's names for photos inside a wheel of the models' environment
PACKAGE_FOLDERS = {"skimage": ("skimage", "data"), "sklearn": ("sklearn", "datasets/images")}


def judged_photo(name: str) -> Path | None:
    """A photo of the judged corpus: a path, or ``skimage:<file>`` / ``sklearn:<file>`` found
    in the models' environment (this script runs in the app's, which has neither)."""
    prefix, sep, rest = name.partition(":")
    if not sep or prefix not in PACKAGE_FOLDERS:
        return Path(name) if Path(name).exists() else None
    package, folder = PACKAGE_FOLDERS[prefix]
    found = sorted(REPO.glob(f".venv-models/lib/python*/site-packages/{package}/{folder}/{rest}"))
    return found[0] if found else None


def keyframes(path: Path, every_s: float = 4.0) -> list[bytes]:
    """JPEG frames of a video, one every ``every_s`` seconds (what keyframe analysis sees)."""
    import io

    import av
    from PIL import Image

    out, next_t = [], 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            t = float(frame.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            buf = io.BytesIO()
            Image.fromarray(frame.to_ndarray(format="rgb24")).save(buf, format="JPEG", quality=90)
            out.append(buf.getvalue())
            next_t = t + every_s
    return out


def corpus(kind: str) -> tuple[list[bytes], str]:
    """The photos a run cycles through, and their description."""
    if kind == "darknet":
        return [p.read_bytes() for p in SAMPLES], f"{len(SAMPLES)} darknet photos"
    import json

    names = json.loads(QUERIES_JSON.read_text())["corpus"]
    paths = [p for p in (judged_photo(n) for n in names) if p is not None]
    photos = [p.read_bytes() for p in paths]
    frames = [f for v in VIDEOS if v.exists() for f in keyframes(v)]
    missing = len(names) - len(paths)
    about = f"the {len(paths)} judged photos (darknet, OpenCV, scikit-image, scikit-learn)"
    about += f" and {len(frames)} video keyframes" + (
        f"; {missing} photos missing" if missing else ""
    )
    mixed = [x for pair in zip(photos, frames, strict=False) for x in pair]  # interleaved first
    mixed += photos[len(frames) :] + frames[len(photos) :]
    return mixed, about


BENCH_PORTS = Ports(redis=26380, triton=28100, milvus=28530, web=28000)

# (label, Settings fields changed): all evidence on, then one costly stage off at a time
CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("all evidence", {}),
    ("OCR off", {"ocr": False}),
    ("detectors off (objects, nudity)", {"objects": False, "nsfw": False}),
    ("object counterfactuals off", {"object_counterfactuals": 0}),
    ("faithfulness off (masks, curves)", {"faithfulness": "off"}),
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


def triton_stats(url: str) -> dict[str, dict[str, int]]:
    """Per model, Triton's cumulative counters: inferences, executions, and queue and compute
    nanoseconds."""
    # plain HTTP (GET /v2/models/stats): tritonclient.http runs on gevent, whose hub a forked
    # pool process inherits and then hangs on, and the pools here fork after this call
    with urllib.request.urlopen(f"http://{url}/v2/models/stats", timeout=30) as response:
        stats = json.load(response).get("model_stats", [])
    out: dict[str, dict[str, int]] = {}
    for m in stats:
        inf = m.get("inference_stats", {})
        row = out.setdefault(
            m["name"], {"inferences": 0, "executions": 0, "queue": 0, "compute": 0}
        )
        row["inferences"] += int(m.get("inference_count", 0))
        row["executions"] += int(m.get("execution_count", 0))
        row["queue"] += int(inf.get("queue", {}).get("ns", 0))
        row["compute"] += sum(
            int(inf.get(k, {}).get("ns", 0))
            for k in ("compute_input", "compute_infer", "compute_output")
        )
    return out


def stats_delta(before: dict, after: dict) -> dict[str, dict[str, int]]:
    return {
        name: {k: row[k] - before.get(name, {}).get(k, 0) for k in row}
        for name, row in after.items()
        if row["inferences"] > before.get(name, {}).get("inferences", 0)
    }


def model_ms_per_image(delta: dict[str, dict[str, int]], images: int) -> float:
    """The models' own compute, per image: Triton's compute time summed over the models."""
    return sum(row["compute"] for row in delta.values()) / 1e6 / max(images, 1)


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
        before = triton_stats(url)
        t0 = time.perf_counter()
        timings = list(pool.map(_analyze, images))
        wall = time.perf_counter() - t0
        delta = stats_delta(before, triton_stats(url))
    keys = sorted({k for t in timings for k in t})
    phase = {k: statistics.mean(t.get(k, 0.0) for t in timings) for k in keys}
    return {
        "ips": len(images) / wall,
        "wall": wall,
        "model_ms": model_ms_per_image(delta, len(images)),
        "models": delta,
        **{f"ms_{k}": v for k, v in phase.items()},
    }


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
        before = triton_stats(f"127.0.0.1:{stack.ports.triton}")
        t0 = time.perf_counter()
        try:
            pending = MediaItem.objects.filter(pk__in=ids).exclude(status__in=["ready", "failed"])
            while pending.exists():
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError("items still pending after 600 s")
                time.sleep(0.05)
            wall = time.perf_counter() - t0
            delta = stats_delta(before, triton_stats(f"127.0.0.1:{stack.ports.triton}"))
        finally:
            stop(worker)
        failed = MediaItem.objects.filter(pk__in=ids, status="failed").count()
        rows.append((label, n / wall, wall, failed, model_ms_per_image(delta, n), delta))
    return rows


def print_worker_table(rows: list[tuple], processes: int, images: int, about: str) -> None:
    print(
        f"\nIngest through one Celery worker (--concurrency {processes}), {images} "
        f"uploads (from {about}) queued before it starts; SQLite, Milvus Lite server, Triton "
        "on CPU with dynamic batching\n"
    )
    print(
        "| configuration | images/s | wall s | ms per image | failed | vs all evidence | "
        "Triton compute ms per image | models' own images/s | end to end / models |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, ips, wall, failed, model_ms, _models in rows:
        own = 1000 / model_ms if model_ms else float("nan")
        print(
            f"| {label} | {ips:.2f} | {wall:.1f} | {1000 / ips:.0f} | {failed} | "
            f"{ips / rows[0][1]:.2f}x | {model_ms:.0f} | {own:.2f} | {ips / own:.2f} |"
        )


def print_model_table(what: str, models: dict[str, dict[str, int]], images: int) -> None:
    """Per model: inferences (images, windows or texts), batches Triton formed, queue and
    compute time."""
    print(f"\nPer model, {what}\n")
    print(
        "| model | inferences | batches | mean batch | inferences per image | queue ms per "
        "inference | compute ms per batch | compute ms per image |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, m in sorted(models.items(), key=lambda kv: -kv[1]["compute"]):
        calls, batches = m["inferences"], max(m["executions"], 1)
        print(
            f"| {name} | {calls} | {m['executions']} | {calls / batches:.2f} | "
            f"{calls / images:.2f} | {m['queue'] / 1e6 / max(calls, 1):.1f} | "
            f"{m['compute'] / 1e6 / batches:.1f} | {m['compute'] / 1e6 / images:.1f} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument(
        "--processes", type=int, default=2, help="worker pool processes (Celery --concurrency)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of the analysis-stage table"
    )
    ap.add_argument(
        "--corpus",
        choices=("judged", "darknet"),
        default="judged",
        help="judged: eval_data's 40 photos and keyframes of the sample videos; darknet: its 7",
    )
    ap.add_argument("--repo", type=Path, help="the checkout to measure (default: this one)")
    ap.add_argument(
        "--worker-only",
        action="store_true",
        help="only the Celery worker table (and its per-model table): what bench/compare.py runs",
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument(
        "--configs",
        type=int,
        default=len(CONFIGS),
        help=f"the first N configurations only (of {len(CONFIGS)}; 1: all evidence)",
    )
    args = ap.parse_args()
    del CONFIGS[max(args.configs, 1) :]
    photos, about = corpus(args.corpus)
    if not photos:
        print("sample photos missing: run infra/bin/setup (darknet, opencv-doc)", file=sys.stderr)
        return 2
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
    print_worker_table(worker_rows, args.processes, args.images, about)
    print_model_table(
        f"the Celery worker, all evidence ({args.images} images)", worker_rows[0][5], args.images
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "repo": str(REPO),
                    "about": about,
                    "images": args.images,
                    "worker": [
                        {
                            "configuration": r[0],
                            "ips": r[1],
                            "wall_s": r[2],
                            "failed": r[3],
                            "model_ms": r[4],
                            "models": r[5],
                        }
                        for r in worker_rows
                    ],
                },
                indent=1,
            )
        )
    if args.worker_only:
        return 0
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
    base = rows[0][2]["ips"]
    print(
        f"\nAnalysis stage alone, {args.images} images (from {about}), "
        f"{args.processes} worker processes, Triton on CPU; the median of {args.rounds} "
        "alternating rounds\n"
    )
    keys = sorted({k for _, _, r in rows for k in r if k.startswith("ms_")})
    print(
        "| dynamic batching | configuration | images/s | ms per image | vs all evidence | "
        "Triton compute ms per image | models' own images/s | end to end / models | "
        + " | ".join(f"mean {k[3:]} ms" for k in keys)
        + " |"
    )
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(keys))
    for batching, label, r in rows:
        own = 1000 / r["model_ms"] if r["model_ms"] else float("nan")
        print(
            f"| {'on' if batching else 'off'} | {label} | {r['ips']:.2f} | "
            f"{1000 / r['ips']:.0f} | {r['ips'] / base:.2f}x | {r['model_ms']:.0f} | "
            f"{own:.2f} | {r['ips'] / own:.2f} | "
            + " | ".join(f"{r.get(k, 0.0):.1f}" for k in keys)
            + " |"
        )
    print_model_table(
        f"the analysis stage alone, all evidence, dynamic batching ({args.images} images)",
        rows[0][2]["models"],
        args.images,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
