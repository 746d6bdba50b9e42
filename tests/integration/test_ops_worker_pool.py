"""A worker pool per stage, on the real services: two workers on the ``analyze`` queue (and
one on ``index``) share the work, no item is analysed twice and none is lost.

Each worker is a separate Celery process with its own JSON log and its own /metrics port
(GLASSBOX_OPS_POOL_PORT, default 17391..17393). Who analysed what is read from the workers'
``task finished`` lines (item id, task, outcome: ops.logs), checked against the database
(every item ready, analysed once: ``attempts == 1``) and against each worker's
``glassbox_tasks_total`` counter. The same batch runs first through one analyze worker,
then through two, and the test prints both wall times (docs/deployment.md quotes them).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from faults_support import upload, wait_for
from glassbox_launch.process import Service, start, stop
from media.models import MediaItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BATCH = 8
PHOTOS = ("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg")
TOKEN = "pool-test-scraper-token-7d2e"
BASE_PORT = int(os.environ.get("GLASSBOX_OPS_POOL_PORT", "17391"))


def finished_lines(log: Path, since: int, task: str) -> list[dict]:
    """The ``task finished`` lines of ``task`` in a worker's JSON log after ``since``."""
    lines = []
    with open(log, "rb") as fh:
        fh.seek(since)
        for raw in fh.read().decode(errors="replace").splitlines():
            if not raw.startswith("{"):
                continue  # Celery's banner, the launcher's start line
            line = json.loads(raw)
            if line.get("message") == "task finished" and line.get("task") == task:
                assert line["stage"] == task.split(".")[1] and line["task_id"], line
                lines.append(line)
    return lines


def finished_runs(log: Path, since: int, task: str = "media.analyze") -> Counter:
    """Item ids of the successful runs of ``task`` in a worker's log after ``since``."""
    runs: Counter = Counter()
    for line in finished_lines(log, since, task):
        assert line["outcome"] == "succeeded", line
        runs[line["item_id"]] += 1
    return runs


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * q // 100)) - 1]


def scrape(port: int, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def counted(text: str, queue: str, task: str) -> float:
    for line in text.splitlines():
        if line.startswith("glassbox_tasks_total{") and f'queue="{queue}"' in line:
            if f'task="{task}"' in line and 'outcome="succeeded"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def pools(celery_worker, stack):
    """Stops the session's all-queue worker; yields a function that starts analyze workers
    (and one index worker) by name; stops them all and restarts the session's worker after."""
    session_env = {**celery_worker.env, "GLASSBOX_METRICS_TOKEN": TOKEN}
    stop(celery_worker, echo=lambda _m: None)
    started: list[Service] = []

    def run(names: list[str]) -> list[Service]:
        for svc in started:
            stop(svc, echo=lambda _m: None)
        started.clear()
        for n, name in enumerate([*names, "pool-index"]):
            queue = "index" if name == "pool-index" else "analyze"
            svc = stack.worker(
                extra_env=session_env, queues=(queue,), name=name, metrics_port=BASE_PORT + n
            )
            run.offsets[name] = svc.log_file.stat().st_size if svc.log_file.exists() else 0
            start(svc, echo=lambda _m: None)
            started.append(svc)
        return started[:-1]

    run.offsets = {}  # each worker's log size when it was started: its lines come after

    try:
        yield run
    finally:
        for svc in started:
            stop(svc, echo=lambda _m: None)
        start(stack.worker(extra_env=celery_worker.env), echo=lambda _m: None)


def batch(owner, samples) -> list[int]:
    return [upload(owner, samples / PHOTOS[n % len(PHOTOS)]).pk for n in range(BATCH)]


def wait_all_ready(ids: list[int], timeout_s: float) -> float:
    started = time.monotonic()

    def ready() -> bool:
        rows = MediaItem.objects.filter(pk__in=ids).values_list("status", flat=True)
        assert MediaItem.Status.FAILED not in rows, "an item failed"
        return list(rows).count(MediaItem.Status.READY) == len(ids)

    wait_for(ready, timeout_s, f"{len(ids)} items ready")
    return time.monotonic() - started


def test_two_workers_on_one_queue_share_the_work_with_none_done_twice_and_none_lost(
    pools, stack, alice, samples
) -> None:
    # one analyze worker first: the baseline the second worker is measured against
    (single,) = pools(["pool-solo"])
    ids = batch(alice, samples)
    solo_s = wait_all_ready(ids, 600)
    index_log = stack.log_dir / "pool-index.log"
    costs = {
        "media.analyze": finished_lines(
            single.log_file, pools.offsets["pool-solo"], "media.analyze"
        ),
        "media.index": finished_lines(index_log, pools.offsets["pool-index"], "media.index"),
    }

    workers = pools(["pool-a1", "pool-a2"])
    offsets = {svc.name: svc.log_file.stat().st_size for svc in workers}
    ids = batch(alice, samples)
    pair_s = wait_all_ready(ids, 600)

    runs = {svc.name: finished_runs(svc.log_file, offsets[svc.name]) for svc in workers}
    together = runs["pool-a1"] + runs["pool-a2"]
    assert set(together) == set(ids), "an item was lost, or a foreign one analysed"
    assert all(count == 1 for count in together.values()), f"analysed twice: {together}"
    assert runs["pool-a1"] and runs["pool-a2"], f"one worker did everything: {runs}"
    attempts = dict(MediaItem.objects.filter(pk__in=ids).values_list("id", "attempts"))
    assert set(attempts.values()) == {1}, attempts

    for n, svc in enumerate(workers, start=0):
        port = BASE_PORT + n
        assert scrape(port, None)[0] == 401 and scrape(port, TOKEN + "x")[0] == 401
        status, text = scrape(port, TOKEN)
        assert status == 200
        assert counted(text, "analyze", "media.analyze") == len(runs[svc.name]), svc.name
    index_text = scrape(BASE_PORT + 2, TOKEN)[1]
    assert counted(index_text, "index", "media.index") == BATCH
    costs["media.analyze"] += [
        line
        for svc in workers
        for line in finished_lines(svc.log_file, offsets[svc.name], "media.analyze")
    ]
    costs["media.index"] += finished_lines(index_log, pools.offsets["pool-index"], "media.index")
    print("\ntask cost per stage (wall time of one run, from the workers' task finished lines):")
    for task, lines in costs.items():
        ms = [line["duration_ms"] for line in lines]
        print(
            f"  {task:<14} n={len(ms):<3} p50 {nearest_rank(ms, 50):8.1f} ms"
            f"  p95 {nearest_rank(ms, 95):8.1f} ms  mean {sum(ms) / len(ms):8.1f} ms"
        )
    print(
        f"{BATCH} photos, analyze stage: one worker {solo_s:.1f} s "
        f"({BATCH / solo_s * 60:.1f} items/min); two workers {pair_s:.1f} s "
        f"({BATCH / pair_s * 60:.1f} items/min); split "
        f"{len(runs['pool-a1'])} + {len(runs['pool-a2'])}, none twice, none lost"
    )
