"""Structured logs (ops.logs) and what Celery's signals add to every task (ops.signals): the
JSON line and its context, the request id of a request, the headers a published message
gets, and a task run's context, counters and per-minute outcome."""

from __future__ import annotations

import io
import json
import logging
from types import SimpleNamespace

import pytest
from django.test import Client
from media.models import MediaItem
from ops import logs, metrics, signals


def json_line(logger_name: str, emit) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger(logger_name)
    log.addHandler(handler)
    try:
        emit(log)
    finally:
        log.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    return json.loads(line)


def test_a_json_line_carries_the_context_and_the_extra_fields():
    with logs.bound(task_id="t-1", stage="analyze", item_id=7):
        line = json_line(
            "media.tasks", lambda log: log.info("media %s analysed", 7, extra={"ms": 5})
        )
    assert line["message"] == "media 7 analysed"
    assert line["level"] == "INFO" and line["logger"] == "media.tasks"
    assert (line["task_id"], line["stage"], line["item_id"], line["ms"]) == ("t-1", "analyze", 7, 5)
    assert line["time"].endswith("Z")
    outside = json_line("media.tasks", lambda log: log.info("after"))
    assert "task_id" not in outside and "item_id" not in outside


def test_an_exception_and_untrusted_text_stay_one_valid_line():
    def emit(log):
        try:
            raise ValueError('bad "quote"\nsecond line')
        except ValueError:
            log.exception("caption %s", '</script>\n"x"')

    line = json_line("media.x", emit)
    assert line["message"] == 'caption </script>\n"x"'
    assert 'ValueError: bad "quote"' in line["exception"]


def test_the_plain_format_appends_the_context():
    record = logging.LogRecord("media", logging.INFO, __file__, 1, "hello", (), None)
    with logs.bound(item_id=3, stage="index"):
        text = logs.PlainFormatter().format(record)
    assert text.endswith("media: hello [item_id=3 stage=index]")


def test_a_request_gets_an_id_its_lines_carry_and_the_response_names(client, caplog):
    caplog.set_level(logging.INFO, logger="ops.requests")
    response = client.get("/accounts/login/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = [r for r in caplog.records if r.name == "ops.requests"]
    assert (line.method, line.path, line.status) == ("GET", "/accounts/login/", 200)
    given = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="abc-123.x")
    assert given["X-Request-ID"] == "abc-123.x"
    forged = Client().get("/accounts/login/", HTTP_X_REQUEST_ID='x"\n{"admin": true}')
    assert forged["X-Request-ID"] != 'x"\n{"admin": true}' and len(forged["X-Request-ID"]) == 32


def test_a_published_message_gets_its_sent_at_and_the_senders_request_id(caplog):
    caplog.set_level(logging.INFO, logger="ops.tasks")
    headers = {"id": "task-9", "task": "media.analyze"}
    with logs.bound(request_id="req-1"):
        signals.stamp_message(
            sender="media.analyze", body=([42], {}, {}), headers=headers, routing_key="analyze"
        )
    assert headers["glassbox_request_id"] == "req-1"
    assert isinstance(headers["glassbox_sent_at"], float)
    (record,) = [r for r in caplog.records if r.message == "task sent"]
    assert (record.task, record.task_id, record.queue, record.item_id) == (
        "media.analyze",
        "task-9",
        "analyze",
        42,
    )


def fake_task(name: str, queue: str, request_id: str | None = None):
    request = SimpleNamespace(
        delivery_info={"routing_key": queue},
        hostname="worker-analyze@host",
        retries=0,
        glassbox_request_id=request_id,
    )
    return SimpleNamespace(name=name, request=request)


def sample(name: str, labels: dict) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_task_run_binds_its_context_counts_its_outcome_and_the_item_it_finished(
    make_item, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="ops.tasks")
    recorded: list[str] = []
    monkeypatch.setattr(signals.throughput, "record", recorded.append)
    item = make_item(ready=False)
    task = fake_task("media.index", "index", request_id="req-7")
    labels = {"task": "media.index", "queue": "index", "outcome": "succeeded"}
    before = sample("glassbox_tasks_total", labels)
    done_before = sample("glassbox_items_finished_total", {"outcome": "done"})

    signals.task_started(task_id="t-1", task=task, args=[item.pk])
    bound = logs.current()
    MediaItem.objects.filter(pk=item.pk).update(status=MediaItem.Status.READY)  # the run's work
    signals.task_finished(task_id="t-1", task=task, args=[item.pk], state="SUCCESS")

    assert bound == {
        "task_id": "t-1",
        "task": "media.index",
        "stage": "index",
        "item_id": item.pk,
        "worker": "worker-analyze@host",
        "request_id": "req-7",
    }
    assert logs.current() == {}
    assert sample("glassbox_tasks_total", labels) == before + 1
    assert sample("glassbox_items_finished_total", {"outcome": "done"}) == done_before + 1
    assert recorded == ["done"]
    finished = [r for r in caplog.records if r.message == "task finished"]
    assert finished[-1].outcome == "succeeded" and finished[-1].duration_ms >= 0


@pytest.mark.parametrize(
    ("before", "after", "state", "counted"),
    [
        ("processing", "failed", "FAILURE", ["failed"]),
        ("failed", "failed", "SUCCESS", []),  # a message for an item that had failed already
        ("processing", "processing", "RETRY", []),
        ("queued", "processing", "SUCCESS", []),  # analysed, waiting for its indexing
    ],
)
def test_only_a_change_to_ready_or_failed_counts(
    make_item, monkeypatch, before, after, state, counted
):
    recorded: list[str] = []
    monkeypatch.setattr(signals.throughput, "record", recorded.append)
    item = make_item(ready=False, status=before)
    task = fake_task("media.analyze", "analyze")
    signals.task_started(task_id="t-2", task=task, args=[item.pk])
    MediaItem.objects.filter(pk=item.pk).update(status=after)
    signals.task_finished(task_id="t-2", task=task, args=[item.pk], state=state)
    assert recorded == counted
    assert metrics.outcome_of(state) in {"succeeded", "failed", "retried"}


def test_an_eager_run_takes_its_queue_from_the_routes():
    task = SimpleNamespace(name="media.unindex", request=SimpleNamespace(delivery_info=None))
    assert signals.queue_of(task) == "index"
