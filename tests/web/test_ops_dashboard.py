"""The operators' dashboard, its JSON API, the bulk retry and /metrics: who reaches them (the
authorisation matrix), and the numbers their database sections compute from a known state.

The remote sections (Redis, Celery, Triton, Milvus) are replaced by stand-ins here; they are
tested against the real services in tests/integration/test_ops_dashboard.py.
"""

from __future__ import annotations

import pytest
from accounts.roles import MODERATOR, OPERATOR
from django.contrib.auth.models import Group
from django.test import Client
from media.actions import lifecycle
from media.models import MediaItem
from ops import dashboard, health, metrics
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

ROLES = ("anonymous", "member", MODERATOR, OPERATOR, "superuser")
SCRAPER_TOKEN = "scraper-token-for-the-tests-0123456789"


@pytest.fixture(autouse=True)
def no_remote_services(monkeypatch, settings):
    """Stand-ins for the sections and checks that talk to Redis, Celery, Triton, Milvus."""
    for name in ("queue_section", "worker_section", "throughput_section"):
        monkeypatch.setattr(dashboard, name, lambda: {"stand_in": True})
    monkeypatch.setattr(dashboard, "triton_section", lambda: {"models": []})
    monkeypatch.setattr(dashboard, "milvus_section", lambda: {"rows": 0})
    monkeypatch.setattr(dashboard, "current_versions", lambda: {"error": "not in web tests"})
    down = {"ok": False, "detail": "not in web tests", "latency_ms": 0.0}
    checks = {
        "database": {"ok": True, "detail": "postgresql", "latency_ms": 0.1},
        "redis": down,
        "triton": down,
        "milvus": down,
    }
    monkeypatch.setattr(health, "run_checks", lambda: dict(checks))
    monkeypatch.setattr(health, "ping_workers", dict)
    settings.OPS = {**settings.OPS, "METRICS_TOKEN": SCRAPER_TOKEN}


def user_with(make_user, role: str):
    if role == "anonymous":
        return None
    user = make_user(f"{role}-user")
    if role == "superuser":
        user.is_superuser = True
        user.save()
    elif role != "member":
        user.groups.add(Group.objects.get(name=role))
    return user


def allowed(role: str) -> bool:
    return role in (OPERATOR, "superuser")


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_page_is_for_operators_and_admins(make_user, role):
    client = Client()
    user = user_with(make_user, role)
    if user is not None:
        client.force_login(user)
    response = client.get("/ops/")
    if user is None:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    else:
        assert response.status_code == (200 if allowed(role) else 403)
    if allowed(role):
        html = response.content.decode()
        assert 'data-api-url="/api/v1/ops/dashboard/"' in html
        assert "ops/dashboard.js" in html


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/ops/dashboard/", None),
        ("post", "/api/v1/ops/retry/", {"ids": [1]}),
        ("get", "/api/v1/health/detail/", None),
    ],
)
def test_the_ops_api_is_for_operators_and_admins(make_user, role, method, path, body):
    client = APIClient()
    user = user_with(make_user, role)
    if user is not None:
        client.force_authenticate(user)
    response = getattr(client, method)(path, body, format="json")
    if allowed(role):
        assert response.status_code in (200, 503), response.content  # 503: health degraded
    else:
        assert response.status_code == (401 if user is None else 403)
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("role", ROLES)
def test_metrics_with_a_session_are_for_operators_and_admins(make_user, role):
    client = Client()
    user = user_with(make_user, role)
    if user is not None:
        client.force_login(user)
    response = client.get("/metrics")
    if allowed(role):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
    elif user is None:
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {SCRAPER_TOKEN}", 200),
        (f"bearer {SCRAPER_TOKEN}", 200),
        (f"Bearer {SCRAPER_TOKEN}x", 401),
        (f"Bearer {SCRAPER_TOKEN[:-1]}", 401),
        ("Bearer ", 401),
        (f"Basic {SCRAPER_TOKEN}", 401),
        (None, 401),
    ],
)
def test_a_scraper_reaches_metrics_with_the_token_from_the_environment(db, header, status):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == status
    if status == 200:
        assert b"glassbox_dependency_up" in response.content


def test_without_a_configured_token_no_bearer_token_opens_metrics(settings):
    settings.OPS = {**settings.OPS, "METRICS_TOKEN": ""}
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 401


@pytest.mark.parametrize(("role", "status"), [("member", 403), (OPERATOR, 200)])
def test_an_api_token_works_for_metrics_like_a_session(make_user, role, status):
    user = user_with(make_user, role)
    key = Token.objects.create(user=user).key
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Token {key}").status_code == status


def test_metrics_answer_get_only():
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {SCRAPER_TOKEN}")
    assert response.status_code == 405


# --------------------------------------------------------------------------- the numbers


@pytest.fixture
def operator_api(make_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user_with(make_user, OPERATOR))
    return client


def fail(item, reason: str) -> None:
    lifecycle.mark_failed(item.pk, reason)


def test_failures_are_grouped_by_reason_largest_group_first(operator_api, make_item):
    triton = "Analysis failed: the inference service (Triton) was unavailable after 9 tries."
    items = [make_item(ready=False) for _ in range(4)]
    for item in items[:3]:
        fail(item, triton)
    fail(items[3], "<img src=x onerror=alert(1)> is not an image")
    make_item()  # a ready item is no failure
    body = operator_api.get("/api/v1/ops/dashboard/").json()
    failures = body["failures"]
    assert failures["error"] is None and failures["total"] == 4
    assert [(g["reason"], g["count"]) for g in failures["groups"]] == [
        (triton, 3),
        ("<img src=x onerror=alert(1)> is not an image", 1),
    ]
    assert sorted(failures["groups"][0]["item_ids"]) == sorted(i.pk for i in items[:3])


def test_stage_percentiles_come_from_the_stored_timings(operator_api, make_item):
    for n in range(1, 21):  # pipeline_ms 10, 20, ... 200; index_ms 1 .. 20
        item = make_item()
        MediaItem.objects.filter(pk=item.pk).update(
            timings={"pipeline_ms": 10.0 * n, "index_ms": float(n), "decode_ms": 2.0}
        )
    queued = make_item(ready=False)  # not ready: not sampled
    MediaItem.objects.filter(pk=queued.pk).update(timings={"pipeline_ms": 99999.0})
    stages = operator_api.get("/api/v1/ops/dashboard/").json()["stages"]
    by_name = {s["name"]: s for s in stages["stages"]}
    assert stages["sampled_items"] == 20
    assert by_name["pipeline_ms"] == {
        "name": "pipeline_ms",
        "count": 20,
        "p50_ms": 100.0,
        "p95_ms": 190.0,
    }
    assert by_name["index_ms"]["p50_ms"] == 10.0 and by_name["index_ms"]["p95_ms"] == 19.0
    assert by_name["decode_ms"]["p95_ms"] == 2.0
    names = [s["name"] for s in stages["stages"]]
    assert names.index("pipeline_ms") < names.index("index_ms") < names.index("decode_ms")


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert dashboard.percentile(values, 50) == 50.0
    assert dashboard.percentile(values, 95) == 95.0
    assert dashboard.percentile([7.0], 95) == 7.0
    assert dashboard.percentile([1.0, 2.0], 50) == 1.0


def test_items_reindex_and_watch_sections(operator_api, make_item):
    ready, stale, queued = make_item(), make_item(), make_item(ready=False)
    MediaItem.objects.filter(pk=stale.pk).update(needs_reindex=True)
    body = operator_api.get(f"/api/v1/ops/dashboard/?watch={ready.pk},{queued.pk},999999").json()
    assert body["items"]["by_status"] == {"queued": 1, "processing": 0, "ready": 2, "failed": 0}
    assert body["reindex"] == {"error": None, "count": 1, "item_ids": [stale.pk]}
    assert body["watch"]["items"] == [
        {"id": ready.pk, "status": "ready"},
        {"id": queued.pk, "status": "queued"},
        {"id": 999999, "status": "gone"},
    ]


@pytest.mark.parametrize("watch", ["a,b", "0", "-3", ",".join(["1"] * 51)])
def test_a_malformed_watch_list_is_a_400_problem(operator_api, watch):
    response = operator_api.get(f"/api/v1/ops/dashboard/?watch={watch}")
    assert response.status_code == 400
    assert response.json()["field"] == "watch"


def test_a_section_that_raises_carries_its_error_and_the_rest_still_answers(
    operator_api, monkeypatch
):
    def broken():
        raise ConnectionError("redis://127.0.0.1:1 refused")

    monkeypatch.setattr(dashboard, "queue_section", broken)
    body = operator_api.get("/api/v1/ops/dashboard/").json()
    assert body["queues"] == {"error": "ConnectionError: redis://127.0.0.1:1 refused"}
    assert body["items"]["error"] is None


def test_bulk_retry_by_reason_queues_every_item_failed_with_it(
    operator_api, make_item, enqueued, django_capture_on_commit_callbacks
):
    items = [make_item(ready=False) for _ in range(3)]
    fail(items[0], "reason A")
    fail(items[1], "reason A")
    fail(items[2], "reason B")
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post("/api/v1/ops/retry/", {"reason": "reason A"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"retried": sorted([items[0].pk, items[1].pk]), "skipped": []}
    statuses = dict(MediaItem.objects.values_list("id", "status"))
    assert statuses[items[0].pk] == statuses[items[1].pk] == "queued"
    assert statuses[items[2].pk] == "failed"
    assert sorted(enqueued) == sorted(("media.analyze", i.pk) for i in items[:2])


def test_bulk_retry_by_id_skips_items_that_are_not_failed(operator_api, make_item, enqueued):
    failed, ready = make_item(ready=False), make_item()
    fail(failed, "reason")
    body = operator_api.post(
        "/api/v1/ops/retry/", {"ids": [failed.pk, ready.pk, 424242]}, format="json"
    ).json()
    assert body == {"retried": [failed.pk], "skipped": [ready.pk, 424242]}
    assert MediaItem.objects.get(pk=ready.pk).status == "ready"


@pytest.mark.parametrize(
    "body", [{}, {"ids": [1], "reason": "x"}, {"ids": ["x"]}, {"ids": [0]}, {"reason": ""}]
)
def test_a_retry_needs_ids_or_a_reason(operator_api, body):
    response = operator_api.post("/api/v1/ops/retry/", body, format="json")
    assert response.status_code == 400


def test_metrics_expose_the_pipelines_state_and_the_request_counter(make_item):
    make_item()
    failed = make_item(ready=False)
    fail(failed, "x")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {SCRAPER_TOKEN}"}
    Client().get("/metrics", **auth)  # counted, so the next scrape shows it
    text = Client().get("/metrics", **auth).content.decode()
    assert 'glassbox_items{status="ready"} 1.0' in text
    assert 'glassbox_items{status="failed"} 1.0' in text
    assert 'glassbox_dependency_up{dependency="database"} 1.0' in text
    assert 'glassbox_dependency_up{dependency="redis"} 0.0' in text
    assert "glassbox_workers_online 0.0" in text
    assert "glassbox_queue_depth" not in text  # Redis is down: no depth rather than a false 0
    assert 'glassbox_http_requests_total{method="GET",route="metrics",status="200"}' in text


def test_every_documented_family_is_exported():
    text = metrics.exposition(with_state=False).decode()
    for name, kind in metrics.EVENT_METRICS.items():
        assert f"# TYPE {name} {kind}" in text, name


def test_the_outcome_label_of_each_final_state():
    assert [metrics.outcome_of(s) for s in ("SUCCESS", "FAILURE", "RETRY", "REVOKED", None)] == [
        "succeeded",
        "failed",
        "retried",
        "revoked",
        "unknown",
    ]
