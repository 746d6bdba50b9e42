"""Prometheus metrics of the web app and the workers (``prometheus_client``).

Gunicorn's workers and Celery's prefork children are separate processes, so the counters run
in multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` names a folder (the launcher, compose
and Kubernetes set one per web or worker container): each process writes its own file there
and a scrape adds them up. Without it (``runserver``, tests) they live in this process.

Two kinds of series:

- *events*, counted where they happen: HTTP requests (``RequestMetricsMiddleware``), tasks by
  outcome and their durations, items finished (``ops.signals``, in the workers);
- *state*, read at scrape time by the web's ``/metrics`` only (:class:`PipelineCollector`):
  queue depth and oldest age, items by status, the outbox, dependencies up, workers online.

``METRIC_NAMES`` lists every family, so that the alert rules and the Grafana dashboard in
``infra/monitoring/`` are checked against what is really exported
(``tests/unit/test_monitoring_config.py``).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROC_DIR:  # every process writes its file here: the folder must exist
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

disable_created_metrics()  # no *_created series: multiprocess mode has none either

TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)

HTTP_REQUESTS = Counter(
    "glassbox_http_requests_total",
    "HTTP requests answered by the web app, by route pattern and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "glassbox_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern",
    ["method", "route"],
)
TASKS = Counter(
    "glassbox_tasks_total",
    "Tasks run by the workers, by task, queue and outcome (succeeded, failed, retried)",
    ["task", "queue", "outcome"],
)
TASK_SECONDS = Histogram(
    "glassbox_task_duration_seconds",
    "Wall time of one task run (a retried run counts once per try)",
    ["task", "queue"],
    buckets=TASK_BUCKETS,
)
ITEMS_FINISHED = Counter(
    "glassbox_items_finished_total",
    "Items a task brought to ready (done) or failed",
    ["outcome"],
)

# the families the web's /metrics reads at scrape time (PipelineCollector)
STATE_METRICS = {
    "glassbox_queue_depth": "Messages waiting in a broker queue",
    "glassbox_queue_oldest_age_seconds": "Age of the oldest waiting message (0: empty)",
    "glassbox_items": "Media items by status",
    "glassbox_items_needing_reindex": "Items whose index row must be rewritten",
    "glassbox_outbox_waiting": "Jobs in the outbox not yet taken by the broker",
    "glassbox_outbox_oldest_age_seconds": "Age of the oldest job in the outbox (0: empty)",
    "glassbox_dependency_up": "1 if the dependency answered the web's check, else 0",
    "glassbox_workers_online": "Celery workers that answered a ping (-1: broker down)",
}
EVENT_METRICS = {
    "glassbox_http_requests_total": "counter",
    "glassbox_http_request_duration_seconds": "histogram",
    "glassbox_tasks_total": "counter",
    "glassbox_task_duration_seconds": "histogram",
    "glassbox_items_finished_total": "counter",
}
METRIC_NAMES = frozenset(STATE_METRICS) | frozenset(EVENT_METRICS)


def outcome_of(state: str | None) -> str:
    """A task's final Celery state as the ``outcome`` label."""
    return {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}.get(
        state or "", (state or "unknown").lower()
    )


class PipelineCollector(Collector):
    """The pipeline's state, read when scraped: each part that cannot be read is left out
    (and ``glassbox_dependency_up`` says which dependency is down)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from django.db.models import Count
        from jobs import outbox
        from media.models import MediaItem

        from . import health, queues

        checks = health.run_checks()
        up = GaugeMetricFamily(
            "glassbox_dependency_up", STATE_METRICS["glassbox_dependency_up"], labels=["dependency"]
        )
        for name, check in checks.items():
            up.add_metric([name], 1.0 if check["ok"] else 0.0)
        yield up
        if checks["redis"]["ok"]:
            depth = GaugeMetricFamily(
                "glassbox_queue_depth", STATE_METRICS["glassbox_queue_depth"], labels=["queue"]
            )
            age = GaugeMetricFamily(
                "glassbox_queue_oldest_age_seconds",
                STATE_METRICS["glassbox_queue_oldest_age_seconds"],
                labels=["queue"],
            )
            try:
                for q in queues.queue_stats():
                    depth.add_metric([q.name], q.depth)
                    age.add_metric([q.name], q.oldest_age_s or 0.0)
                yield depth
                yield age
            except Exception:  # the broker went away between the check and the read
                pass
        try:
            alive = len(health.ping_workers())
        except Exception:
            alive = -1
        yield GaugeMetricFamily(
            "glassbox_workers_online", STATE_METRICS["glassbox_workers_online"], value=alive
        )
        if checks["database"]["ok"]:
            items = GaugeMetricFamily(
                "glassbox_items", STATE_METRICS["glassbox_items"], labels=["status"]
            )
            counts = {
                row["status"]: row["n"]
                for row in MediaItem.objects.order_by().values("status").annotate(n=Count("id"))
            }
            for status in MediaItem.Status.values:
                items.add_metric([status], counts.get(status, 0))
            yield items
            yield GaugeMetricFamily(
                "glassbox_items_needing_reindex",
                STATE_METRICS["glassbox_items_needing_reindex"],
                value=MediaItem.objects.filter(needs_reindex=True).count(),
            )
            waiting, oldest = outbox.backlog()
            yield GaugeMetricFamily(
                "glassbox_outbox_waiting", STATE_METRICS["glassbox_outbox_waiting"], value=waiting
            )
            yield GaugeMetricFamily(
                "glassbox_outbox_oldest_age_seconds",
                STATE_METRICS["glassbox_outbox_oldest_age_seconds"],
                value=oldest or 0.0,
            )


def events_registry() -> CollectorRegistry:
    """This process's counters, or every process's in multiprocess mode."""
    if not MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(with_state: bool) -> bytes:
    """The text a scrape gets: the event counters, and the pipeline's state if asked."""
    text = generate_latest(events_registry())
    if with_state:
        state = CollectorRegistry()
        state.register(PipelineCollector())
        text += generate_latest(state)
    return text


CONTENT_TYPE = CONTENT_TYPE_LATEST


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization: Bearer <token>`` header carries the scraper's token (never
    true while no token is configured)."""
    if not token or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class RequestMetricsMiddleware:
    """Counts every request by method, route pattern (bounded: never the raw path) and
    status, and observes its duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
        return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
