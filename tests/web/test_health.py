"""Health: the open endpoint says only up or down; operators see every check.

``/api/v1/health/`` answers anyone (probes, load balancers) with ``{"status": "ok"}`` (200) or
``{"status": "down"}`` (503) and nothing else: no dependency names, addresses or error texts.
The detail (``/api/v1/health/detail/`` and the ``/ops/health/`` page) is for operators: 401 or
a login redirect for an anonymous caller, 403 for a signed-in user without the role.
"""

from __future__ import annotations

import time

import pytest
from accounts.roles import MODERATOR, OPERATOR
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from ops import health
from rest_framework.test import APIClient

PROBLEM = "application/problem+json"
# What a failing check really says: an address and an error text, for operators only.
LEAKY = "ConnectionError: Error 111 connecting to 10.1.2.3:6380. Connection refused."


def fake_remote_checks(monkeypatch, redis=(True, "pong"), triton=(True, "ready")) -> None:
    monkeypatch.setattr(health, "ping_workers", lambda: {"celery@worker-1": {"ok": "pong"}})
    monkeypatch.setattr(
        health,
        "REMOTE_CHECKS",
        {
            "redis": redis if callable(redis) else lambda: redis,
            "triton": lambda: triton,
            "milvus": lambda: (True, "ok"),
        },
    )


def user_with(make_user, role: str):
    user = make_user(f"{role}-user")  # joins the member role
    if role == "superuser":
        user.is_superuser = True
        user.save()
    elif role != "member":
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def operator_api(make_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user_with(make_user, OPERATOR))
    return client


@pytest.mark.django_db
def test_open_health_says_only_ok_when_every_dependency_answers(monkeypatch):
    fake_remote_checks(monkeypatch)
    response = APIClient().get(reverse("api:health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_open_health_says_only_down_and_leaks_nothing_when_a_dependency_fails(monkeypatch):
    def refused():
        raise ConnectionError(LEAKY)

    fake_remote_checks(monkeypatch, redis=refused, triton=(False, "not ready"))
    response = APIClient().get(reverse("api:health"))
    assert response.status_code == 503
    assert response.json() == {"status": "down"}
    text = response.content.decode()
    for leak in ("10.1.2.3", "6380", "Connection", "redis", "triton", "milvus", "database"):
        assert leak not in text


@pytest.mark.django_db
def test_open_health_is_the_same_for_a_signed_in_operator(monkeypatch, operator_api):
    fake_remote_checks(monkeypatch, triton=(False, "not ready"))
    assert operator_api.get(reverse("api:health")).json() == {"status": "down"}


@pytest.mark.django_db
def test_operator_detail_reports_every_dependency(monkeypatch, operator_api):
    def refused():
        raise ConnectionError(LEAKY)

    fake_remote_checks(monkeypatch, redis=refused, triton=(False, "not ready"))
    response = operator_api.get(reverse("api:health-detail"))
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "degraded"
    assert set(body["checks"]) == {"database", "redis", "triton", "milvus"}
    for check in body["checks"].values():
        assert set(check) == {"ok", "detail", "latency_ms"}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["triton"]["ok"] is False
    assert body["checks"]["triton"]["detail"] == "not ready"
    assert "10.1.2.3:6380" in body["checks"]["redis"]["detail"]  # operators see the cause


@pytest.mark.django_db
def test_detail_is_ok_when_all_checks_pass_and_a_hanging_check_times_out(monkeypatch, operator_api):
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    fake_remote_checks(monkeypatch)
    response = operator_api.get(reverse("api:health-detail"))
    assert response.status_code == 200 and response.json()["status"] == "ok"
    monkeypatch.setitem(health.REMOTE_CHECKS, "milvus", lambda: time.sleep(2) or (True, "late"))
    started = time.perf_counter()
    body = operator_api.get(reverse("api:health-detail")).json()
    assert time.perf_counter() - started < 1.5
    assert body["checks"]["milvus"] == {"ok": False, "detail": "timed out", "latency_ms": 200.0}
    assert APIClient().get(reverse("api:health")).json() == {"status": "down"}


@pytest.mark.parametrize("role", ["member", MODERATOR, OPERATOR, "superuser"])
def test_detail_api_and_page_are_for_operators_only(monkeypatch, make_user, role):
    fake_remote_checks(monkeypatch, triton=(False, "not ready"))
    user = user_with(make_user, role)
    api = APIClient()
    api.force_authenticate(user)
    page = Client()
    page.force_login(user)
    detail, html = api.get(reverse("api:health-detail")), page.get(reverse("ops:health"))
    if role in (OPERATOR, "superuser"):
        assert detail.status_code == 503 and detail.json()["checks"]["triton"]["ok"] is False
        assert html.status_code == 200 and b"not ready" in html.content
    else:
        assert detail.status_code == 403 and detail["Content-Type"] == PROBLEM
        assert html.status_code == 403 and b"not ready" not in html.content


@pytest.mark.django_db
def test_anonymous_detail_is_401_and_the_page_sends_to_login(monkeypatch):
    fake_remote_checks(monkeypatch)
    detail = APIClient().get(reverse("api:health-detail"))
    assert detail.status_code == 401 and detail["Content-Type"] == PROBLEM
    page = Client().get(reverse("ops:health"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))


def test_operator_detail_reports_the_pipeline_workers_leases_outbox_and_index_check(
    monkeypatch, operator_api, make_item
):
    import datetime as dt

    from django.utils import timezone
    from jobs.models import OutboxMessage
    from media.models import IndexCheck, MediaItem

    fake_remote_checks(monkeypatch)
    body = operator_api.get(reverse("api:health-detail")).json()
    pipeline = body["pipeline"]
    assert pipeline["workers"] == {"alive": 1, "names": ["celery@worker-1"]}
    assert pipeline["oldest_expired_lease_s"] is None and body["status"] == "ok"

    item = make_item(ready=False)
    MediaItem.objects.filter(pk=item.pk).update(
        status="processing", lease_expires=timezone.now() - dt.timedelta(seconds=300)
    )
    OutboxMessage.objects.create(task="media.index", item_id=item.pk)
    IndexCheck.record(False, "repaired: 1 missing", {})
    response = operator_api.get(reverse("api:health-detail"))
    pipeline = response.json()["pipeline"]
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert 299 < pipeline["oldest_expired_lease_s"] < 400  # stranded: the reaper is not running
    assert pipeline["outbox"]["waiting"] >= 1
    assert pipeline["index_check"]["in_step"] is False


def test_no_worker_alive_degrades_the_detail_but_not_the_open_health(monkeypatch, operator_api):
    fake_remote_checks(monkeypatch)
    monkeypatch.setattr(health, "ping_workers", lambda: {})
    detail = operator_api.get(reverse("api:health-detail"))
    assert detail.status_code == 503 and detail.json()["pipeline"]["workers"]["alive"] == 0
    assert APIClient().get(reverse("api:health")).status_code == 200


def test_a_broker_that_does_not_answer_reports_workers_as_unknown(monkeypatch, operator_api):
    fake_remote_checks(monkeypatch)

    def down():
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(health, "ping_workers", down)
    workers = operator_api.get(reverse("api:health-detail")).json()["pipeline"]["workers"]
    assert workers["alive"] is None and "broker down" in workers["error"]
