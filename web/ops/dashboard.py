"""What the operators' dashboard shows, as one JSON-ready snapshot (``/api/v1/ops/dashboard/``).

Sections, each computed on its own so that one dependency down blanks only its part (the
section then carries ``error``):

- ``queues``: depth and age of the oldest message of every queue (Redis);
- ``workers``: the workers online with their queues, concurrency, current tasks and uptime
  (Celery's inspect, one broadcast each for stats, active tasks and queues, in parallel);
- ``throughput``: items done and failed per minute over the last hour (``ops.throughput``);
- ``stages``: p50 and p95 of every stored timing over the latest ready items;
- ``failures``: failed items grouped by reason (ids only: the items may be private);
- ``reindex``: items whose index row must be rewritten;
- ``reprocess``: the current versions, the items analysed by older ones (ids, kind, versions)
  and the latest reprocessing runs with their progress (``media.reprocess``; it asks Triton
  for its models' versions);
- ``items``, ``outbox``: counts by status, and the jobs the broker has not taken yet;
- ``triton``: per model, inferences, executions, the mean batch actually formed, queue and
  compute time per request and the batch sizes formed (Triton's statistics extension);
- ``milvus``: row counts, and each index's type and parameters.

The remote sections run in threads with one deadline, so the endpoint answers within a few
seconds whatever is down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone
from glassbox.clients.milvus.client import from_settings as index_from_settings
from glassbox.config import get_settings

from . import queues, throughput

REMOTE_TIMEOUT_S = 2.0
INSPECT_TIMEOUT_S = 1.0
STAGE_SAMPLE = 200  # latest ready items whose timings make the percentiles
MAX_GROUPS = 20
MAX_IDS = 50
MAX_WATCH = 50


def snapshot(watch: Iterable[int] = ()) -> dict[str, Any]:
    """Every section (see the module's docstring); ``watch``: item ids whose status to add."""
    remote: dict[str, Callable[[], Any]] = {
        "queues": queue_section,
        "workers": worker_section,
        "throughput": throughput_section,
        "triton": triton_section,
        "milvus": milvus_section,
        "reprocess": current_versions,  # Triton's side only: the rest is read below
    }
    out: dict[str, Any] = {"generated_at": timezone.now().isoformat()}
    pool = ThreadPoolExecutor(max_workers=len(remote), thread_name_prefix="dashboard")
    try:
        started = time.perf_counter()
        futures = {name: pool.submit(_guarded, fn) for name, fn in remote.items()}
        out.update(
            stages=_guarded(stage_section),
            failures=_guarded(failure_section),
            reindex=_guarded(reindex_section),
            items=_guarded(item_section),
            watch=_guarded(lambda: watch_section(watch)),
        )
        deadline = REMOTE_TIMEOUT_S + INSPECT_TIMEOUT_S * 2 + 0.5
        for name, future in futures.items():
            remaining = max(0.0, deadline - (time.perf_counter() - started))
            try:
                out[name] = future.result(timeout=remaining)
            except FutureTimeout:
                out[name] = {"error": "timed out"}
        # the outdated items and the runs from the database, in this thread (its connection)
        versions = out["reprocess"]
        if versions.get("error") is None:
            out["reprocess"] = _guarded(lambda: reprocess_section(versions["versions"]))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return out


def _guarded(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"error": None, **fn()}
    except Exception as exc:  # a failing dependency is a result the page shows
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}


# ----------------------------------------------------------------------------- broker


def queue_section() -> dict[str, Any]:
    return {
        "queues": [
            {"name": q.name, "depth": q.depth, "oldest_age_s": q.oldest_age_s}
            for q in queues.queue_stats()
        ]
    }


def throughput_section() -> dict[str, Any]:
    counts = throughput.last_hour()
    return {
        "minutes": throughput.MINUTES,
        "done": counts["done"],
        "failed": counts["failed"],
        "done_total": sum(counts["done"]),
        "failed_total": sum(counts["failed"]),
    }


def worker_section() -> dict[str, Any]:
    from glassbox_web.celery import app

    def ask(method: str) -> dict:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=REMOTE_TIMEOUT_S)
            inspect = app.control.inspect(timeout=INSPECT_TIMEOUT_S, connection=conn)
            return getattr(inspect, method)() or {}

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="inspect") as pool:
        stats, active, active_queues = pool.map(ask, ("stats", "active", "active_queues"))
    now = time.time()
    workers = []
    for name in sorted(set(stats) | set(active) | set(active_queues)):
        info = stats.get(name, {})
        tasks = [
            {
                "task": t.get("name", ""),
                "task_id": t.get("id", ""),
                "item_id": _first_int(t.get("args")),
                "running_s": round(now - t["time_start"], 1) if t.get("time_start") else None,
            }
            for t in active.get(name, [])
        ]
        workers.append(
            {
                "name": name,
                "queues": sorted(q["name"] for q in active_queues.get(name, [])),
                "concurrency": (info.get("pool") or {}).get("max-concurrency"),
                "uptime_s": info.get("uptime"),
                "processed": sum((info.get("total") or {}).values()),
                "active": tasks,
            }
        )
    return {"workers": workers}


def _first_int(args: Any) -> int | None:
    if isinstance(args, list | tuple) and args and isinstance(args[0], int):
        return args[0]
    return None


# ----------------------------------------------------------------------------- database


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ascending values (not empty)."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def stage_section() -> dict[str, Any]:
    from media.models import MediaItem

    rows = (
        MediaItem.objects.filter(status=MediaItem.Status.READY)
        .order_by("-updated")
        .values_list("timings", flat=True)[:STAGE_SAMPLE]
    )
    values: dict[str, list[float]] = {}
    sampled = 0
    for timings in rows:
        if not isinstance(timings, dict) or not timings:
            continue
        sampled += 1
        for name, ms in timings.items():
            if isinstance(ms, int | float) and math.isfinite(ms):
                values.setdefault(name, []).append(float(ms))
    stages = []
    for name, ms in values.items():
        ms.sort()
        stages.append(
            {
                "name": name,
                "count": len(ms),
                "p50_ms": round(percentile(ms, 50), 1),
                "p95_ms": round(percentile(ms, 95), 1),
            }
        )
    stages.sort(key=lambda s: (_STAGE_ORDER.get(s["name"], 50), s["name"]))
    return {"sampled_items": sampled, "stages": stages}


# the task-level phases first, in the order an item goes through them
_STAGE_ORDER = {"fetch_ms": 0, "pipeline_ms": 1, "index_ms": 2}


def failure_section() -> dict[str, Any]:
    from media.models import MediaItem

    failed = MediaItem.objects.filter(status=MediaItem.Status.FAILED)
    groups = (
        failed.order_by()
        .values("failure_reason")
        .annotate(count=Count("id"), latest=Max("updated"))
        .order_by("-count", "-latest")[:MAX_GROUPS]
    )
    out = []
    for group in groups:
        ids = list(
            failed.filter(failure_reason=group["failure_reason"])
            .order_by("-updated")
            .values_list("id", flat=True)[:MAX_IDS]
        )
        out.append(
            {
                "reason": group["failure_reason"] or "(no reason recorded)",
                "count": group["count"],
                "latest": group["latest"].isoformat() if group["latest"] else None,
                "item_ids": ids,
            }
        )
    return {"total": failed.count(), "groups": out}


def reindex_section() -> dict[str, Any]:
    from media.models import MediaItem

    rows = MediaItem.objects.filter(needs_reindex=True)
    return {"count": rows.count(), "item_ids": list(rows.values_list("id", flat=True)[:MAX_IDS])}


def current_versions() -> dict[str, Any]:
    from media import reprocess

    return {"versions": reprocess.current_versions()}


def reprocess_section(current: dict[str, Any] | None = None) -> dict[str, Any]:
    from media import reprocess

    return reprocess.section(current)


def item_section() -> dict[str, Any]:
    from jobs import outbox
    from media.models import MediaItem

    counts = {
        row["status"]: row["n"]
        for row in MediaItem.objects.order_by().values("status").annotate(n=Count("id"))
    }
    waiting, oldest = outbox.backlog()
    return {
        "by_status": {status: counts.get(status, 0) for status in MediaItem.Status.values},
        "outbox_waiting": waiting,
        "outbox_oldest_s": None if oldest is None else round(oldest, 1),
    }


def watch_section(ids: Iterable[int]) -> dict[str, Any]:
    from media.models import MediaItem

    wanted = sorted({int(i) for i in ids})[:MAX_WATCH]
    rows = MediaItem.objects.filter(pk__in=wanted).values_list("id", "status")
    found = dict(rows)
    return {"items": [{"id": i, "status": found.get(i, "gone")} for i in wanted]}


# ----------------------------------------------------------------------------- Triton, Milvus


def triton_section() -> dict[str, Any]:
    from tritonclient.http import InferenceServerClient

    client = InferenceServerClient(
        get_settings().triton_url,
        connection_timeout=REMOTE_TIMEOUT_S,
        network_timeout=REMOTE_TIMEOUT_S,
    )
    try:
        repository = client.get_model_repository_index()
        stats = client.get_inference_statistics().get("model_stats", [])
    finally:
        client.close()
    by_name = {}
    for s in stats:  # one entry per loaded version: keep the latest
        if s.get("name") not in by_name or str(s.get("version")) > str(
            by_name[s["name"]]["version"]
        ):
            by_name[s["name"]] = s
    models = []
    for entry in sorted(repository, key=lambda e: e.get("name", "")):
        name = entry.get("name", "")
        models.append(
            {"name": name, "state": entry.get("state", ""), **model_stats(by_name.get(name))}
        )
    return {"models": models}


def model_stats(s: dict[str, Any] | None) -> dict[str, Any]:
    """One model's figures from its statistics entry (``None``: not loaded)."""
    if s is None:
        return {
            "version": None,
            "inference_count": 0,
            "execution_count": 0,
            "mean_batch": None,
            "queue_ms": None,
            "compute_ms": None,
            "batches": [],
        }
    inferences, executions = int(s.get("inference_count", 0)), int(s.get("execution_count", 0))
    inf = s.get("inference_stats", {})

    def per_request(*parts: str) -> float | None:
        count = int(inf.get(parts[0], {}).get("count", 0))
        if not count:
            return None
        ns = sum(int(inf.get(p, {}).get("ns", 0)) for p in parts)
        return round(ns / count / 1e6, 2)

    batches = sorted(
        (
            {"size": int(b["batch_size"]), "count": int(b.get("compute_infer", {}).get("count", 0))}
            for b in s.get("batch_stats", [])
        ),
        key=lambda b: b["size"],
    )
    return {
        "version": str(s.get("version", "")),
        "inference_count": inferences,
        "execution_count": executions,
        "mean_batch": round(inferences / executions, 2) if executions else None,
        "queue_ms": per_request("queue"),
        "compute_ms": per_request("compute_infer", "compute_input", "compute_output"),
        "batches": batches,
    }


def milvus_section() -> dict[str, Any]:
    cfg = get_settings()
    index = index_from_settings(cfg, timeout=REMOTE_TIMEOUT_S)
    try:
        exists = index._call(lambda c: c.has_collection(index.collection, timeout=REMOTE_TIMEOUT_S))
        if not exists:  # nothing indexed yet (or it was dropped): say so, without a query
            raise LookupError(
                f"collection {index.collection!r} does not exist (nothing indexed yet)"
            )
        total = index.count()
        shots = index.count("id < 0")  # a video's windows have negative keys

        def describe(client) -> list[dict[str, Any]]:
            names = client.list_indexes(index.collection, timeout=REMOTE_TIMEOUT_S)
            return [
                client.describe_index(index.collection, n, timeout=REMOTE_TIMEOUT_S) or {}
                for n in names
            ]

        described = index._call(describe)  # the connection's retries and error classes
    finally:
        index.close()
    indexes = []
    for d in described:
        params = {
            k: str(v) for k, v in d.items() if k not in _INDEX_FIELDS and not isinstance(v, dict)
        }
        nested = d.get("params")
        if isinstance(nested, dict):
            params.update({k: str(v) for k, v in nested.items()})
        indexes.append(
            {
                "field": str(d.get("field_name", "")),
                "index_type": str(d.get("index_type", "")),
                "metric_type": str(d.get("metric_type", "")),
                "params": params,
                "state": str(d.get("state", "")),
                "indexed_rows": _int_or_none(d.get("indexed_rows")),
                "pending_rows": _int_or_none(d.get("pending_index_rows")),
            }
        )
    indexes.sort(key=lambda i: i["field"])
    return {
        "collection": index.collection,
        "uri": index.uri,
        "rows": total,
        "item_rows": total - shots,
        "shot_rows": shots,
        "indexes": indexes,
    }


# what describe_index says about an index besides its build parameters
_INDEX_FIELDS = frozenset(
    {
        "field_name",
        "index_name",
        "index_type",
        "metric_type",
        "state",
        "total_rows",
        "indexed_rows",
        "pending_index_rows",
    }
)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
