"""``infra/bin/gpu-check``: each Triton model's own throughput on the GPU, batching on and off.

It builds a model repository of generated configurations in a build folder (never touching
the checked-in ``model_repository/*/config.pbtxt``): per model two copies, ``<model>``
with its ``dynamic_batching`` block and ``<model>_unbatched`` without it, both with
``instance_group [ { count: 1, kind: KIND_GPU } ]`` and their version folder's files
(``model.py``, weights) symlinked. It starts Triton from the nvidia-pytriton wheel as the local
stack does (``glassbox_launch.triton``), in explicit model-control mode, loads one model's two
copies at a time, and drives each from several client threads with realistic inputs, so that
the batcher has concurrent requests to merge. It prints a markdown table: per model, batching,
batch size sent and concurrency, the throughput (images, frames or texts a second), p50/p95
latency and the mean batch Triton actually formed (from its statistics).

Only the torch models run on the GPU: the onnxruntime models (``ocr``, ``nsfw_detector``) and
OpenCV's ``object_detection`` keep ``KIND_CPU`` and are labelled CPU only, with the reason
(the installed onnxruntime has no CUDA provider; OpenCV's headless wheel has no CUDA), rather
than claiming a GPU instance they would not use.

Without a GPU (no ``nvidia-smi``, or the models' torch sees no CUDA device) it exits 2, unless
``--cpu``: then the same measurement runs with ``KIND_CPU`` instances, so the script itself can
be run and tested on a machine without a GPU.

Runs in the app's environment (tritonclient, numpy, Pillow); what the models' environment can
do (CUDA in torch, onnxruntime's providers, OpenCV's CUDA) is asked from its interpreter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassbox_launch import triton as triton_paths
from glassbox_launch.process import LaunchError, Service, http_ok, start, stop

REPO = Path(__file__).resolve().parents[2]
SOURCE_REPOSITORY = REPO / "model_repository"
DEFAULT_BUILD_DIR = REPO / "build" / "gpu-check"
DEFAULT_PORT = 8200  # HTTP; gRPC and metrics on the next two (the demo's Triton is on 8100)
UNBATCHED_SUFFIX = "_unbatched"
MARKER = ".gpu-check"  # only a folder holding this file is ever wiped
SAMPLE_PHOTO = Path("/usr/share/darknet/data/dog.jpg")
EXIT_NO_GPU = 2
WARMUP = 2  # uncounted requests a thread sends before each row (CUDA context, lazy loads)

# onnxruntime / OpenCV models: what they say instead of a GPU, by what the models' env has
CPU_ONLY_ORT = "CPU only (onnxruntime without CUDA)"
CPU_ONLY_ORT_PINNED = "CPU only (onnxruntime has CUDA; glassbox.nn does not use it)"
CPU_ONLY_CV2 = "CPU only (OpenCV DNN without CUDA)"
CPU_ONLY_CV2_UNUSED = "CPU only (cv2 has CUDA; glassbox.nn.ssd does not select it)"

_PROBE = """
import json
out = {}
try:
    import torch
    out["torch"] = torch.__version__
    out["torch_cuda"] = torch.version.cuda
    out["cuda_available"] = bool(torch.cuda.is_available())
    out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
        if out["cuda_available"] else []
except Exception as exc:
    out["torch_error"] = repr(exc)
try:
    import onnxruntime
    out["onnxruntime"] = onnxruntime.__version__
    out["ort_providers"] = list(onnxruntime.get_available_providers())
except Exception as exc:
    out["ort_error"] = repr(exc)
try:
    import cv2
    out["cv2"] = cv2.__version__
    out["cv2_cuda_devices"] = int(cv2.cuda.getCudaEnabledDeviceCount())
except Exception as exc:
    out["cv2_error"] = repr(exc)
print(json.dumps(out))
"""


class GpuCheckError(RuntimeError):
    """The check cannot run as asked; the message says why and what to do."""


# -- the workloads: one realistic request per model -------------------------------------------


@dataclass(frozen=True)
class Workload:
    """What one model is sent: ``make(n)`` builds a batch of ``n`` items (numpy, the Triton
    datatype ``datatype``); each item counts as ``per_item`` ``unit`` (a TransNetV2 window
    answers for 50 new frames of the video)."""

    model: str
    engine: str  # "torch", "onnxruntime" or "opencv": decides where a GPU run places it
    input_name: str
    datatype: str
    unit: str
    per_item: int
    describe: str
    make: Callable[[int], Any]


def _photo(width: int, height: int, caption: str | None = None) -> Any:
    """darknet's dog.jpg resized to ``width`` × ``height`` (RGB uint8), with a line of text
    drawn on it when ``caption`` is given, so that OCR has something to read. A smooth
    synthetic picture stands in where the Debian package is missing (a bare GPU machine)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    if SAMPLE_PHOTO.is_file():
        with Image.open(SAMPLE_PHOTO) as img:
            picture = img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    else:
        y, x = np.mgrid[0:height, 0:width]
        rgb = np.stack([x * 255 // max(1, width), y * 255 // max(1, height), (x + y) % 256], -1)
        picture = Image.fromarray(rgb.astype(np.uint8), "RGB")
    if caption:
        draw = ImageDraw.Draw(picture)
        size = max(12, height // 18)
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: a fixed bitmap font
            font = ImageFont.load_default()
        draw.rectangle((0, height - 2 * size, width, height), fill=(255, 255, 255))
        draw.text((size, height - 1.7 * size), caption, fill=(0, 0, 0), font=font)
    return np.asarray(picture, dtype=np.uint8)


def _repeat(item: Any, n: int) -> Any:
    import numpy as np

    return np.ascontiguousarray(np.repeat(item[None], n, axis=0))


def _frame_window() -> Any:
    """One TransNetV2 window: 100 frames of 48 × 27, two shots with a hard cut at frame 50
    and a little noise, as a video's small frames look to the network."""
    import numpy as np

    rng = np.random.default_rng(14)
    y, x = np.mgrid[0:27, 0:48]
    first = np.stack([x * 5, y * 9, np.full_like(x, 60)], -1)
    second = np.stack([np.full_like(x, 200), 255 - y * 9, x * 5], -1)
    frames = np.concatenate([np.repeat(first[None], 50, 0), np.repeat(second[None], 50, 0)])
    noisy = frames + rng.integers(-6, 7, size=frames.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


QUERIES = (
    "a dog next to a bicycle",
    "red car parked in the street",
    "people flying kites on a beach",
    "giraffe",
    "a man riding a horse",
    "snow-covered mountains at sunset",
    "invoice with a phone number",
    "two cats asleep on a sofa",
)


def _texts(n: int) -> Any:
    import numpy as np

    picked = [QUERIES[i % len(QUERIES)].encode() for i in range(n)]
    return np.array(picked, dtype=np.object_).reshape(n, 1)


def _images(width: int, height: int, caption: str | None = None) -> Callable[[int], Any]:
    cache: dict[str, Any] = {}

    def make(n: int) -> Any:
        if "item" not in cache:
            cache["item"] = _photo(width, height, caption)
        return _repeat(cache["item"], n)

    return make


def _windows(n: int) -> Any:
    return _repeat(_frame_window(), n)


FRAME_CAPTION = "GLASSBOX 14 · Gate B12 · 07:45"
WORKLOADS: dict[str, Workload] = {
    w.model: w
    for w in (
        Workload(
            "image_concepts", "torch", "IMAGE", "UINT8", "images", 1,
            "224x224 RGB uint8 (dog.jpg)", _images(224, 224),
        ),
        Workload(
            "text_embedding", "torch", "TEXT", "BYTES", "texts", 1,
            "short query strings", _texts,
        ),
        Workload(
            "shot_boundaries", "torch", "FRAMES", "UINT8", "frames", 50,
            "100x27x48x3 frame windows (50 new frames each)", _windows,
        ),
        Workload(
            "ocr", "onnxruntime", "IMAGE", "UINT8", "frames", 1,
            "1280x720 frame with a line of text", _images(1280, 720, FRAME_CAPTION),
        ),
        Workload(
            "nsfw_detector", "onnxruntime", "IMAGE", "UINT8", "frames", 1,
            "1280x720 frame", _images(1280, 720, FRAME_CAPTION),
        ),
        Workload(
            "object_detection", "opencv", "IMAGE", "UINT8", "frames", 1,
            "1280x720 frame", _images(1280, 720, FRAME_CAPTION),
        ),
    )
}  # fmt: skip


# -- what the machine can do ------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What the models' environment reports (``_PROBE``) and ``nvidia-smi``'s GPU list."""

    probe: dict[str, Any]
    smi_gpus: tuple[str, ...] = ()

    @property
    def torch_cuda(self) -> bool:
        return bool(self.probe.get("cuda_available"))

    @property
    def ort_cuda(self) -> bool:
        return "CUDAExecutionProvider" in self.probe.get("ort_providers", [])

    @property
    def cv2_cuda(self) -> bool:
        return int(self.probe.get("cv2_cuda_devices", 0) or 0) > 0


def probe_models_env(python: Path | None = None) -> dict[str, Any]:
    """Ask the models' interpreter about torch's CUDA, onnxruntime's providers, OpenCV."""
    python = python or triton_paths.models_python()
    if not python.exists():
        raise GpuCheckError(f"{python} not found: create .venv-models (infra/bin/setup)")
    out = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [str(python), "-c", _PROBE], check=True, capture_output=True, text=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def nvidia_smi_gpus() -> tuple[str, ...] | None:
    """The GPUs ``nvidia-smi`` lists (name, memory, driver), or None when it is missing."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return None
    query = "--query-gpu=name,memory.total,driver_version"
    try:
        out = subprocess.run(  # noqa: S603
            [binary, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    if out.returncode != 0:
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip())


def require_gpu(smi: tuple[str, ...] | None, probe: dict[str, Any]) -> None:
    """Raise :class:`GpuCheckError` unless a GPU is there and the models' torch can use it."""
    if smi is None:
        raise GpuCheckError(
            "no GPU here: nvidia-smi is not installed. Run `infra/bin/gpu-check --cpu` to "
            "exercise the same measurement with KIND_CPU instances."
        )
    if not smi:
        raise GpuCheckError("nvidia-smi lists no GPU (or failed); see `nvidia-smi`. Or: --cpu")
    if not probe.get("cuda_available"):
        why = probe.get("torch_error") or (
            f"torch {probe.get('torch')} (CUDA {probe.get('torch_cuda')}) sees no CUDA device"
        )
        raise GpuCheckError(
            f"GPU {smi[0]} is listed, but the models' torch cannot use it: {why}. Install "
            "torch's CUDA build in .venv-models (the same version without +cpu), or use --cpu."
        )


# -- the generated configurations -------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where one model runs in this check, and what the table says about it."""

    model: str
    kind: str  # "KIND_GPU" or "KIND_CPU"
    device: str


def place(workload: Workload, gpu: bool, caps: Capabilities | None) -> Placement:
    """``KIND_GPU`` for a torch model on a GPU run; every other model keeps ``KIND_CPU``,
    labelled with why (see the module's docstring)."""
    if not gpu:
        return Placement(workload.model, "KIND_CPU", "CPU (--cpu)")
    if workload.engine == "torch":
        name = caps.probe.get("gpus", ["?"])[0] if caps else "?"
        return Placement(workload.model, "KIND_GPU", f"GPU (cuda:0, {name})")
    if workload.engine == "onnxruntime":
        label = CPU_ONLY_ORT_PINNED if caps and caps.ort_cuda else CPU_ONLY_ORT
        return Placement(workload.model, "KIND_CPU", label)
    label = CPU_ONLY_CV2_UNUSED if caps and caps.cv2_cuda else CPU_ONLY_CV2
    return Placement(workload.model, "KIND_CPU", label)


def _block_end(text: str, open_at: int) -> int:
    """Index just past the bracket that closes the one at ``open_at``, skipping brackets in
    ``"strings"`` and ``# comments`` (protobuf text format)."""
    depth, i, quote = 0, open_at, None
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced brackets in config.pbtxt")


def _find_field(text: str, name: str) -> tuple[int, int] | None:
    """(start, end) of the top-level field ``name [ … ]`` / ``name { … }`` (its whole lines,
    trailing newline included), or None. Occurrences inside comments do not count."""
    pattern = re.compile(rf"^[ \t]*{re.escape(name)}[ \t]*:?[ \t]*([\[{{])", re.MULTILINE)
    match = pattern.search(text)
    if match is None:
        return None
    end = _block_end(text, match.start(1))
    if end < len(text) and text[end] == "\n":
        end += 1
    return match.start(), end


def instance_config(text: str, kind: str, batching: bool, name: str | None = None) -> str:
    """A copy of a model's ``config.pbtxt`` with one instance of ``kind``, with or without its
    ``dynamic_batching`` block, renamed to ``name`` when given. A config without an
    ``instance_group`` is refused, as ``Dockerfile.triton`` refuses it: there would be nothing
    to place on the GPU."""
    if kind not in ("KIND_GPU", "KIND_CPU"):
        raise ValueError(f"kind must be KIND_GPU or KIND_CPU, not {kind!r}")
    group = _find_field(text, "instance_group")
    if group is None:
        raise ValueError("config.pbtxt has no instance_group to place")
    start_at, end = group
    text = text[:start_at] + f"instance_group [ {{ count: 1, kind: {kind} }} ]\n" + text[end:]
    batcher = _find_field(text, "dynamic_batching")
    if not batching and batcher is not None:
        text = text[: batcher[0]] + text[batcher[1] :]
    elif batching and batcher is None:
        raise ValueError("batching asked for, but config.pbtxt has no dynamic_batching block")
    if name is not None:
        text, count = re.subn(r'^name:\s*"[^"]*"', f'name: "{name}"', text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError("config.pbtxt has no top-level name to rename")
    return text.rstrip("\n") + "\n"


def variant_name(model: str, batching: bool) -> str:
    return model if batching else model + UNBATCHED_SUFFIX


def _fresh_dir(path: Path) -> None:
    """Empty ``path`` for a new repository; a folder this script did not make is refused."""
    if path.exists() and any(path.iterdir()) and not (path / MARKER).exists():
        raise GpuCheckError(f"{path} is not empty and was not made by gpu-check: pick another")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    (path / MARKER).write_text("generated by infra/bin/gpu-check; wiped on its next run\n")


def build_repository(
    placements: Sequence[Placement], dest: Path, source: Path = SOURCE_REPOSITORY
) -> Path:
    """``dest/<model>`` (batching on) and ``dest/<model>_unbatched`` (off) for each placement:
    a generated ``config.pbtxt`` and a version folder whose entries link to the source's."""
    _fresh_dir(dest)
    header = "# generated by infra/bin/gpu-check from {}; do not edit\n"
    for placement in placements:
        src = source / placement.model
        text = (src / "config.pbtxt").read_text()
        for batching in (True, False):
            name = variant_name(placement.model, batching)
            model_dir = dest / name
            version = model_dir / "1"
            version.mkdir(parents=True)
            config = instance_config(text, placement.kind, batching, name=name)
            origin = (src / "config.pbtxt").relative_to(source.parent)
            (model_dir / "config.pbtxt").write_text(header.format(origin) + config)
            for entry in sorted((src / "1").iterdir()):
                if entry.name != "__pycache__":
                    (version / entry.name).symlink_to(entry.resolve())
    return dest


# -- Triton ----------------------------------------------------------------------------------


def triton_service(repository: Path, build_dir: Path, http_port: int) -> Service:
    """Triton on ``repository`` in explicit model-control mode (each model is loaded when its
    turn comes), started like the stack's (``Stack.triton``), state under ``build_dir``."""
    root = triton_paths.build_server_root(REPO / "build")
    argv, env = triton_paths.triton_command(
        repository, root, http_port, http_port + 1, http_port + 2
    )
    argv = [a for a in argv if not a.startswith("--exit-on-error")]
    argv += ["--model-control-mode=explicit", "--exit-on-error=false"]
    # as the stack: one intra-op thread per instance unless GLASSBOX_TORCH_THREADS says more
    env.setdefault("GLASSBOX_TORCH_THREADS", os.environ.get("GLASSBOX_TORCH_THREADS", "1"))
    ports = [http_port, http_port + 1, http_port + 2]
    return Service(
        "gpu-check-triton",
        argv,
        ports,
        lambda: http_ok(f"http://127.0.0.1:{http_port}/v2/health/live"),
        run_dir=build_dir / "run",
        log_dir=build_dir / "log",
        env=env,
        ready_timeout_s=180,
        port_setting="--port",
    )


# -- the measurement -------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table."""

    model: str
    device: str
    batching: bool
    batch: int
    concurrency: int
    unit: str = ""
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    per_item: int = 1
    latencies_ms: list[float] = field(default_factory=list)
    formed_batch: float | None = None  # Triton's mean batch: inferences / executions
    note: str = ""

    @property
    def throughput(self) -> float:
        done = self.requests - self.errors
        return done * self.batch * self.per_item / self.seconds if self.seconds else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear between the closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _stats(client: Any, model: str) -> tuple[int, int]:
    """(inference_count, execution_count) of ``model`` from Triton's statistics."""
    stats = client.get_inference_statistics(model)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def measure(
    url: str,
    model: str,
    workload: Workload,
    batch: int,
    concurrency: int,
    seconds: float,
    max_requests: int | None,
    timeout_s: float = 120.0,
    warmup: int = WARMUP,
) -> Row:
    """Drive ``model`` from ``concurrency`` threads, each sending ``batch`` items a request in
    a closed loop, for ``seconds`` (or until ``max_requests`` requests in all). Each thread
    first sends ``warmup`` requests that are not counted (CUDA context, lazy loads)."""
    from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput

    data = workload.make(batch)
    meta = InferenceServerClient(url, network_timeout=timeout_s).get_model_metadata(model)
    output_names = [o["name"] for o in meta["outputs"]]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[str] = []
    lock = threading.Lock()
    tickets = {"left": max_requests if max_requests is not None else -1}
    gate = threading.Barrier(concurrency + 1)
    clock: dict[str, float] = {}
    finished = [0.0] * concurrency

    def one(client: Any) -> None:
        tensor = InferInput(workload.input_name, list(data.shape), workload.datatype)
        tensor.set_data_from_numpy(data, binary_data=True)
        wanted = [InferRequestedOutput(name, binary_data=True) for name in output_names]
        client.infer(model, [tensor], outputs=wanted)

    def take() -> bool:
        with lock:
            if time.perf_counter() >= clock["deadline"] or tickets["left"] == 0:
                return False
            tickets["left"] -= 1
            return True

    def worker(k: int) -> None:
        client = InferenceServerClient(url, connection_timeout=timeout_s, network_timeout=timeout_s)
        try:
            for _ in range(warmup):
                one(client)
        except Exception as exc:  # reported with the row; the gate must still open
            errors.append(f"warm-up: {exc}")
        gate.wait()
        gate.wait()
        while take():
            began = time.perf_counter()
            try:
                one(client)
            except Exception as exc:  # a failed request counts as an error, not a latency
                with lock:
                    errors.append(str(exc))
                continue
            latencies[k].append((time.perf_counter() - began) * 1000.0)
        finished[k] = time.perf_counter()
        client.close()

    stats_client = InferenceServerClient(url, network_timeout=timeout_s)
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    gate.wait()  # every thread warmed up
    before = _stats(stats_client, model)
    clock["start"] = time.perf_counter()
    clock["deadline"] = clock["start"] + (seconds if max_requests is None else 1e9)
    gate.wait()
    for thread in threads:
        thread.join()
    after = _stats(stats_client, model)
    done = [lat for per_thread in latencies for lat in per_thread]
    executions = after[1] - before[1]
    return Row(
        model=workload.model,
        device="",
        batching=not model.endswith(UNBATCHED_SUFFIX),
        batch=batch,
        concurrency=concurrency,
        unit=workload.unit,
        requests=len(done) + len(errors),
        errors=len(errors),
        seconds=max(finished) - clock["start"],
        per_item=workload.per_item,
        latencies_ms=done,
        formed_batch=(after[0] - before[0]) / executions if executions else None,
        note=f"first error: {errors[0][:120]}" if errors else "",
    )


def _load(url: str, names: Sequence[str]) -> str | None:
    """Load ``names`` (at once: Triton loads them in parallel); the first failure, or None."""
    from tritonclient.http import InferenceServerClient

    failures: list[str] = []

    def load(name: str) -> None:
        try:
            InferenceServerClient(url, network_timeout=600).load_model(name)
        except Exception as exc:  # the table says so; the other models still run
            failures.append(f"{name}: {exc}")

    threads = [threading.Thread(target=load, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures[0] if failures else None


def _unload(url: str, names: Sequence[str]) -> None:
    from tritonclient.http import InferenceServerClient

    client = InferenceServerClient(url, network_timeout=120)
    for name in names:
        try:
            client.unload_model(name)
        except Exception as exc:  # unloading is tidiness; the next model still loads
            print(f"  (could not unload {name}: {exc})", file=sys.stderr)


def run_model(
    url: str,
    placement: Placement,
    concurrencies: Sequence[int],
    batch: int,
    seconds: float,
    max_requests: int | None,
    echo: Callable[[str], None],
) -> list[Row]:
    """Both copies of one model, every concurrency, batching off then on; unloaded after."""
    workload = WORKLOADS[placement.model]
    names = [variant_name(placement.model, b) for b in (False, True)]
    began = time.perf_counter()
    failure = _load(url, names)
    if failure is not None:
        echo(f"{placement.model}: load failed: {failure}")
        _unload(url, names)
        return [
            Row(placement.model, placement.device, b, batch, 0, note=f"load failed: {failure}")
            for b in (False, True)
        ]
    echo(f"{placement.model}: loaded both copies in {time.perf_counter() - began:.1f} s")
    rows = []
    try:
        for name in names:
            for concurrency in concurrencies:
                row = measure(url, name, workload, batch, concurrency, seconds, max_requests)
                row.device = placement.device
                echo(f"  {name:<28} c={concurrency:<3} {_throughput(row)}")
                rows.append(row)
    finally:
        _unload(url, names)
    return rows


# -- the report ------------------------------------------------------------------------------

TABLE_HEAD = (
    "| model | device | batching | batch sent | concurrency | throughput | p50 ms | p95 ms "
    "| Triton's mean batch | requests (errors) |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def _throughput(row: Row) -> str:
    if row.concurrency == 0:
        return "—"
    text = f"{row.throughput:,.1f} {row.unit}/s"
    if row.per_item != 1:  # shot windows: the windows too
        text += f" ({row.throughput / row.per_item:,.2f} windows/s)"
    return text


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [TABLE_HEAD]
    for row in rows:
        if row.concurrency == 0:
            lines.append(
                f"| {row.model} | {row.device} | {'on' if row.batching else 'off'} | "
                f"{row.batch} | — | {row.note} | — | — | — | — |"
            )
            continue
        formed = f"{row.formed_batch:.2f}" if row.formed_batch is not None else "—"
        lines.append(
            f"| {row.model} | {row.device} | {'on' if row.batching else 'off'} | {row.batch} | "
            f"{row.concurrency} | {_throughput(row)} | {percentile(row.latencies_ms, 50):.1f} | "
            f"{percentile(row.latencies_ms, 95):.1f} | {formed} | {row.requests} ({row.errors}) |"
        )
    notes = [f"- {row.model}: {row.note}" for row in rows if row.note and row.concurrency]
    return "\n".join(lines + ([""] + notes if notes else []))


def header(gpu: bool, caps: Capabilities, args: argparse.Namespace) -> str:
    """The run's context, as markdown lines: date, machine, mode, versions, settings."""
    probe = caps.probe
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = ", ".join(caps.smi_gpus) if gpu else f"CPU only (--cpu), {os.cpu_count()} CPUs"
    threads = os.environ.get("GLASSBOX_TORCH_THREADS", "1")
    limit = f"{args.requests} requests" if args.requests else f"{args.seconds:g} s"
    return "\n".join(
        [
            f"gpu-check, {now}, host {platform.node()}: {where}",
            f"torch {probe.get('torch')} (CUDA {probe.get('torch_cuda')}), onnxruntime "
            f"{probe.get('onnxruntime')} {probe.get('ort_providers')}, OpenCV {probe.get('cv2')}",
            f"each row: {limit} after {WARMUP} warm-up requests a thread; "
            f"GLASSBOX_TORCH_THREADS={threads}; one instance a model",
        ]
    )


# -- the command -----------------------------------------------------------------------------


def _int_list(raw: str) -> list[int]:
    values = [int(part) for part in raw.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers ≥ 1 separated by commas: {raw!r}")
    return values


def _model_list(raw: str) -> list[str]:
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown models {unknown}; known: {sorted(WORKLOADS)}")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpu-check", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cpu", action="store_true", help="KIND_CPU instances, no GPU needed")
    parser.add_argument(
        "--models", type=_model_list, default=list(WORKLOADS), help="comma-separated; all"
    )
    parser.add_argument(
        "--concurrency", type=_int_list, default=[1, 8], help="client threads (default 1,8)"
    )
    parser.add_argument("--batch", type=int, default=1, help="items a request (default 1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per row (default 10)")
    parser.add_argument("--requests", type=int, default=None, help="per row, instead of seconds")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"Triton HTTP (+1, +2); {DEFAULT_PORT}"
    )
    parser.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD_DIR)
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be ≥ 1")
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be ≥ 1")
    return args


def _max_batch(model: str) -> int:
    text = (SOURCE_REPOSITORY / model / "config.pbtxt").read_text()
    match = re.search(r"^max_batch_size:\s*(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] | None = None) -> int:
    """Exit status: 0 measured, 1 a model failed to load or every request of a row failed,
    2 no GPU (without ``--cpu``) or the setup is missing."""
    args = parse_args(argv)
    echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))
    gpu = not args.cpu
    try:
        smi = nvidia_smi_gpus() if gpu else None
        if gpu and smi is None:  # before asking the models' env: nothing to ask it about
            require_gpu(smi, {})
        probe = probe_models_env()
        if gpu:
            require_gpu(smi, probe)
        for model in args.models:
            if args.batch > _max_batch(model):
                raise GpuCheckError(f"--batch {args.batch} exceeds {model}'s max_batch_size")
        caps = Capabilities(probe, smi or ())
        placements = [place(WORKLOADS[m], gpu, caps) for m in args.models]
        repository = build_repository(placements, args.build_dir / "model_repository")
        triton = triton_service(repository, args.build_dir, args.port)
    except (GpuCheckError, triton_paths.TritonSetupError, subprocess.CalledProcessError) as exc:
        print(f"gpu-check: {exc}", file=sys.stderr)
        return EXIT_NO_GPU
    url = f"127.0.0.1:{args.port}"
    rows: list[Row] = []
    try:
        start(triton, echo=echo)
        for placement in placements:
            rows += run_model(
                url, placement, args.concurrency, args.batch, args.seconds, args.requests, echo
            )
    except LaunchError as exc:
        print(f"gpu-check: {exc}", file=sys.stderr)
        return 1
    finally:
        stop(triton, echo=echo)
    report = header(gpu, caps, args) + "\n\n" + markdown_table(rows) + "\n"
    print(report)
    if args.output is not None:
        args.output.write_text(report)
    failed = [r for r in rows if r.concurrency == 0 or r.errors == r.requests]
    return 1 if failed else 0
