"""Celery's signals, wired once per process (``OpsConfig.ready``): what every task carries and
what every run leaves behind, without a line in the tasks themselves.

- publishing (web, maintainer, worker): the message gets a ``glassbox_sent_at`` header (the
  dashboard's oldest-message age) and the sender's ``glassbox_request_id``; a ``task sent``
  line names the task, its id, its queue and the item;
- running (worker): the log context holds ``task_id``, ``task``, ``stage`` (the queue),
  ``item_id``, ``worker`` and the sender's ``request_id`` for the whole run; at the end the
  run is counted by outcome and timed (``ops.metrics``), and an item the run brought to
  ready or failed is counted per minute for the dashboard (``ops.throughput``);
- the worker keeps Django's ``LOGGING`` (JSON lines) instead of configuring its own, and
  serves its own ``/metrics`` when ``GLASSBOX_WORKER_METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import signals
from django.conf import settings

from . import logs, metrics, queues, throughput

logger = logging.getLogger("ops.tasks")

REQUEST_ID_HEADER = "glassbox_request_id"
# tasks whose first argument is an item id, and whose run can finish an item
ITEM_TASKS = frozenset({"media.analyze", "media.index"})
ID_TASKS = ITEM_TASKS | {"media.unindex"}

# task id -> (log context token, start time, the item's status before the run)
_running: dict[str, tuple[Any, float, str | None]] = {}


def _item_id(task_name: str, args: Any) -> int | None:
    if task_name in ID_TASKS and args and isinstance(args[0], int):
        return args[0]
    return None


def _args_of(body: Any) -> Any:
    if isinstance(body, tuple | list) and body:  # protocol 2: (args, kwargs, embed)
        return body[0]
    if isinstance(body, dict):  # protocol 1
        return body.get("args")
    return None


@signals.before_task_publish.connect
def stamp_message(sender=None, body=None, headers=None, routing_key=None, **_: Any) -> None:
    if headers is None:
        return
    headers[queues.SENT_AT_HEADER] = time.time()
    request_id = logs.current().get("request_id")
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    logger.info(
        "task sent",
        extra={
            "task": sender,
            "task_id": headers.get("id"),
            "queue": routing_key,
            "item_id": _item_id(str(sender), _args_of(body)),
        },
    )


def queue_of(task) -> str:
    """The queue a run came from (the routes' queue when run eagerly)."""
    info = getattr(task.request, "delivery_info", None) or {}
    route = settings.CELERY_TASK_ROUTES.get(task.name, {})
    return info.get("routing_key") or route.get("queue") or "unknown"


def _status(item_id: int | None) -> str | None:
    if item_id is None:
        return None
    from media.models import MediaItem

    return MediaItem.objects.filter(pk=item_id).values_list("status", flat=True).first()


@signals.task_prerun.connect
def task_started(task_id=None, task=None, args=None, **_: Any) -> None:
    item_id = _item_id(task.name, args)
    token = logs.bind(
        task_id=task_id,
        task=task.name,
        stage=queue_of(task),
        item_id=item_id,
        worker=getattr(task.request, "hostname", None),
        request_id=getattr(task.request, REQUEST_ID_HEADER, None),
    )
    before = _status(item_id) if task.name in ITEM_TASKS else None
    _running[task_id] = (token, time.perf_counter(), before)
    logger.info("task started", extra={"retries": task.request.retries})


@signals.task_postrun.connect
def task_finished(task_id=None, task=None, args=None, state=None, **_: Any) -> None:
    token, started, before = _running.pop(task_id, (None, time.perf_counter(), None))
    try:
        elapsed = time.perf_counter() - started
        queue, outcome = queue_of(task), metrics.outcome_of(state)
        metrics.TASKS.labels(task.name, queue, outcome).inc()
        metrics.TASK_SECONDS.labels(task.name, queue).observe(elapsed)
        if task.name in ITEM_TASKS:
            _count_item(before, _status(_item_id(task.name, args)))
        logger.info(
            "task finished", extra={"outcome": outcome, "duration_ms": round(elapsed * 1000, 1)}
        )
    finally:
        if token is not None:
            try:
                logs.unbind(token)
            except ValueError:  # bound in another context: start the next run clean
                logs.clear()


def _count_item(before: str | None, after: str | None) -> None:
    """Count an item this run brought to ready (done) or to failed."""
    from media.models import MediaItem

    if after == before or after is None:
        return
    outcome = {MediaItem.Status.READY: "done", MediaItem.Status.FAILED: "failed"}.get(after)
    if outcome:
        metrics.ITEMS_FINISHED.labels(outcome).inc()
        throughput.record(outcome)


@signals.setup_logging.connect
def keep_django_logging(**_: Any) -> None:
    """A receiver here stops Celery from replacing the handlers that Django's ``LOGGING``
    set up (django.setup() runs first), so the worker logs JSON lines like the web."""


@signals.worker_ready.connect
def serve_worker_metrics(**_: Any) -> None:
    port = settings.OPS["WORKER_METRICS_PORT"]
    if port:
        from . import worker_metrics

        worker_metrics.serve(port, settings.OPS["METRICS_TOKEN"])


@signals.worker_process_shutdown.connect
def forget_process(pid=None, **_: Any) -> None:
    if metrics.MULTIPROC_DIR and pid:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
