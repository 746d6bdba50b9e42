"""The operators' dashboard against a known state, on the real services (Redis, Celery,
PostgreSQL, Triton, Milvus Lite): N uploads while the worker is stopped show as depth N; with
the worker started the depth returns to 0 while the done count rises by N. Triton's
statistics are there for every model, Milvus's rows and index, and the web's /metrics
carries the same state for Prometheus.

It prints the time per stage the dashboard computed (docs/deployment.md quotes it).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest
from accounts.roles import OPERATOR
from django.contrib.auth.models import Group
from django.test import Client
from faults_support import upload, wait_for
from glassbox_launch.process import start, stop
from media.models import MediaItem
from rest_framework.test import APIClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

N = 4
PHOTOS = ("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg")
REPO = Path(__file__).resolve().parents[2]
TOKEN = "integration-scraper-token-5f1c"


@pytest.fixture
def operator_api(django_user_model) -> APIClient:
    user = django_user_model.objects.create_user("ops-operator", password="pw-123456!")
    user.groups.add(Group.objects.get_or_create(name=OPERATOR)[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def snapshot(api: APIClient, **params) -> dict:
    response = api.get("/api/v1/ops/dashboard/", params)
    assert response.status_code == 200, response.content
    return response.json()


def depths(body: dict) -> dict[str, int]:
    assert body["queues"]["error"] is None, body["queues"]
    return {q["name"]: q["depth"] for q in body["queues"]["queues"]}


def test_depth_is_n_while_the_worker_is_stopped_and_drains_to_zero_as_done_rises_by_n(
    celery_worker, stack, operator_api, alice, samples
) -> None:
    wait_for(lambda: set(depths(snapshot(operator_api)).values()) == {0}, 60, "empty queues")
    done_before = snapshot(operator_api)["throughput"]["done_total"]
    stop(celery_worker, echo=lambda _m: None)
    try:
        items = [upload(alice, samples / name) for name in PHOTOS[:N]]
        body = snapshot(operator_api)
        assert depths(body) == {"analyze": N, "index": 0, "reprocess": 0}
        analyze = next(q for q in body["queues"]["queues"] if q["name"] == "analyze")
        assert analyze["oldest_age_s"] is not None and 0 <= analyze["oldest_age_s"] < 60
        assert body["workers"] == {"error": None, "workers": []}
        assert body["items"]["by_status"]["queued"] >= N
        time.sleep(1.2)  # the oldest message ages while nobody takes it
        older = next(
            q for q in snapshot(operator_api)["queues"]["queues"] if q["name"] == "analyze"
        )
        assert older["oldest_age_s"] >= analyze["oldest_age_s"] + 1.0
    finally:  # a fresh Service: its readiness reads the log from here on
        start(stack.worker(extra_env=celery_worker.env), echo=lambda _m: None)

    seen_workers: list[dict] = []

    def drained() -> bool:
        body = snapshot(operator_api)
        seen_workers.extend(body["workers"].get("workers", []))
        done = body["throughput"]["done_total"]
        return set(depths(body).values()) == {0} and done >= done_before + N

    wait_for(drained, 300, f"{N} items done and the queues empty")
    body = snapshot(operator_api)
    assert body["throughput"]["done_total"] == done_before + N
    assert body["throughput"]["done"][-1] + body["throughput"]["done"][-2] >= 1
    statuses = set(
        MediaItem.objects.filter(pk__in=[i.pk for i in items]).values_list("status", flat=True)
    )
    assert statuses == {MediaItem.Status.READY}
    # the worker answered while it worked: its queues, concurrency and uptime
    assert seen_workers, "no worker ever answered the dashboard's inspect"
    worker = seen_workers[-1]
    assert sorted(worker["queues"]) == ["analyze", "index", "reprocess"]
    assert worker["concurrency"] == 1
    assert worker["uptime_s"] is not None and worker["uptime_s"] >= 0

    stages = {s["name"]: s for s in body["stages"]["stages"]}
    for name in ("fetch_ms", "pipeline_ms", "index_ms"):
        assert stages[name]["count"] >= N and 0 < stages[name]["p50_ms"] <= stages[name]["p95_ms"]
    print(f"\ntime per stage over the latest {body['stages']['sampled_items']} ready items:")
    print(f"{'stage':<22}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}")
    for s in body["stages"]["stages"]:
        print(f"{s['name']:<22}{s['count']:>4}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}")


def test_triton_statistics_are_there_for_every_model(celery_worker, operator_api, alice, samples):
    from glassbox.config import get_settings
    from tritonclient.http import InferenceServerClient

    item = upload(alice, samples / "kite.jpg")
    wait_for(lambda: MediaItem.objects.get(pk=item.pk).status == "ready", 180, "the kite ready")
    client = InferenceServerClient(get_settings().triton_url)
    expected = {m["name"] for m in client.get_model_repository_index() if m.get("state") == "READY"}
    client.close()
    triton = snapshot(operator_api)["triton"]
    assert triton["error"] is None, triton
    models = {m["name"]: m for m in triton["models"]}
    assert expected and expected <= set(models), (expected, sorted(models))
    for name in expected:
        assert models[name]["state"] == "READY"
    concepts = models["image_concepts"]
    assert concepts["inference_count"] >= 1 and concepts["execution_count"] >= 1
    assert concepts["mean_batch"] == pytest.approx(
        concepts["inference_count"] / concepts["execution_count"], abs=0.01
    )
    assert concepts["compute_ms"] > 0 and concepts["queue_ms"] is not None
    assert sum(b["count"] for b in concepts["batches"]) == concepts["execution_count"]
    # every Triton series the Grafana dashboard reads is one this Triton exports
    board = json.loads((REPO / "infra/monitoring/grafana/glassbox.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    wanted = set(re.findall(r"\bnv_[a-z_]+", exprs))
    port = int(get_settings().triton_url.rsplit(":", 1)[1]) + 2  # HTTP, gRPC, then metrics
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        families = set(re.findall(r"^# TYPE (\S+)", response.read().decode(), re.M))
    assert wanted and wanted <= families, sorted(wanted - families)
    print("\nTriton, per model:")
    for m in triton["models"]:
        print(
            f"  {m['name']:<18} inferences {m['inference_count']:>5}  executions "
            f"{m['execution_count']:>5}  mean batch {m['mean_batch']}  queue {m['queue_ms']} ms"
            f"  compute {m['compute_ms']} ms"
        )


def test_milvus_rows_and_index_and_the_metrics_scrape(
    celery_worker, operator_api, alice, samples, settings
) -> None:
    item = upload(alice, samples / "person.jpg")
    wait_for(lambda: MediaItem.objects.get(pk=item.pk).status == "ready", 180, "the photo ready")
    milvus = snapshot(operator_api)["milvus"]
    assert milvus["error"] is None, milvus
    assert milvus["rows"] >= 1 and milvus["rows"] == milvus["item_rows"] + milvus["shot_rows"]
    vectors = {i["field"]: i for i in milvus["indexes"] if i["field"] in ("semantic", "appearance")}
    assert set(vectors) == {"semantic", "appearance"}
    assert {i["index_type"] for i in vectors.values()} == {settings.SERVICES.milvus_index}
    assert vectors["semantic"]["metric_type"] == "IP"
    if settings.SERVICES.milvus_index == "HNSW":  # the build parameters the index was made with
        assert vectors["semantic"]["params"]["M"] == str(settings.SERVICES.milvus_hnsw_m)
        efc = str(settings.SERVICES.milvus_hnsw_ef_construction)
        assert vectors["semantic"]["params"]["efConstruction"] == efc
    assert vectors["semantic"]["indexed_rows"] == milvus["rows"]

    settings.OPS = {**settings.OPS, "METRICS_TOKEN": TOKEN}
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for dependency in ("database", "redis", "triton", "milvus"):
        assert f'glassbox_dependency_up{{dependency="{dependency}"}} 1.0' in text, dependency
    assert 'glassbox_queue_depth{queue="analyze"}' in text
    assert 'glassbox_queue_oldest_age_seconds{queue="index"}' in text
    assert "glassbox_workers_online 1.0" in text


def test_one_upload_is_followed_from_its_request_to_its_index_in_the_logs(
    celery_worker, stack, alice, samples
) -> None:
    request_id = f"follow-{time.time_ns()}"
    log = stack.log_dir / "worker.log"
    api = APIClient()
    api.force_authenticate(alice)
    with (samples / "eagle.jpg").open("rb") as fh:
        answer = api.post(
            "/api/v1/media/",
            {"file": fh, "title": "followed"},
            format="multipart",
            HTTP_X_REQUEST_ID=request_id,
        )
    assert answer.status_code == 201, answer.content
    assert answer["X-Request-ID"] == request_id
    item_id = answer.json()["id"]

    def lines() -> list[dict]:
        text = log.read_text(errors="replace")
        parsed = [json.loads(raw) for raw in text.splitlines() if raw.startswith("{")]
        return [line for line in parsed if line.get("request_id") == request_id]

    def indexed() -> list[dict]:
        found = lines()
        done = [x for x in found if x["message"] == "task finished" and x["task"] == "media.index"]
        return found if done else []

    followed = wait_for(indexed, 180, "the upload's index task in the worker's log")
    assert {line["item_id"] for line in followed} == {item_id}
    stages = {line["stage"] for line in followed}
    assert stages == {"analyze", "index"}
    messages = [line["message"] for line in followed]
    assert f"media {item_id} analysed" in " ".join(messages)
    assert f"media {item_id} indexed" in " ".join(messages)
    sent = [line for line in followed if line["message"] == "task sent"]
    assert [line["task"] for line in sent] == ["media.index"]  # sent by the analyze task
    finished = [line for line in followed if line["message"] == "task finished"]
    assert [(line["task"], line["outcome"]) for line in finished] == [
        ("media.analyze", "succeeded"),
        ("media.index", "succeeded"),
    ]
    assert len({line["task_id"] for line in finished}) == 2
