import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from ops import health


@pytest.mark.django_db
def test_migrations_are_in_sync():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_schema_is_openapi(api):
    response = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert "/api/v1/media/" in body["paths"] and "/api/v1/search/" in body["paths"]


def fake_remote_checks(monkeypatch, triton=(True, "ready")) -> None:
    monkeypatch.setattr(
        health,
        "REMOTE_CHECKS",
        {"redis": lambda: (True, "pong"), "triton": lambda: triton, "milvus": lambda: (True, "ok")},
    )


@pytest.mark.django_db
def test_health_reports_every_dependency(client, monkeypatch):
    fake_remote_checks(monkeypatch, triton=(False, "not ready"))
    response = client.get(reverse("api:health"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert set(body["checks"]) == {"database", "redis", "triton", "milvus"}
    for check in body["checks"].values():
        assert set(check) == {"ok", "detail", "latency_ms"}
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_health_is_ok_when_all_checks_pass_and_a_hanging_check_times_out(client, monkeypatch):
    import time

    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.2)
    fake_remote_checks(monkeypatch)
    assert client.get(reverse("api:health")).json()["status"] == "ok"
    monkeypatch.setitem(health.REMOTE_CHECKS, "milvus", lambda: time.sleep(2) or (True, "late"))
    started = time.perf_counter()
    body = client.get(reverse("api:health")).json()
    assert time.perf_counter() - started < 1.5
    assert body["checks"]["milvus"] == {"ok": False, "detail": "timed out", "latency_ms": 200.0}


def test_seed_demo_creates_users_and_is_idempotent(
    tmp_path, enqueued, django_capture_on_commit_callbacks, db
):
    from django.contrib.auth import get_user_model
    from media.models import MediaItem

    from .conftest import jpeg

    path = tmp_path / "dog.jpg"
    path.write_bytes(jpeg())
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo", str(path), stdout=io.StringIO())
    users = get_user_model().objects
    assert users.get(username="demo").check_password("glassbox-demo")
    assert users.get(username="admin").is_superuser
    assert MediaItem.objects.filter(title="dog", visibility="public").count() == 1
    assert len(enqueued) == 1
