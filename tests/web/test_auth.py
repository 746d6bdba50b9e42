import pytest
from django.urls import reverse
from rest_framework.test import APIClient

PROBLEM = "application/problem+json"

API_ENDPOINTS = [
    ("get", "api:media-list", {}),
    ("post", "api:media-list", {}),
    ("get", "api:media-detail", {"pk": 1}),
    ("patch", "api:media-detail", {"pk": 1}),
    ("delete", "api:media-detail", {"pk": 1}),
    ("post", "api:media-retry", {"pk": 1}),
    ("get", "api:media-statuses", {}),
    ("get", "api:search", {}),
    ("get", "api:schema", {}),
    ("get", "api:health-detail", {}),
]
PAGES = [
    ("media:library", {}),
    ("media:upload", {}),
    ("media:detail", {"pk": 1}),
    ("media:original", {"pk": 1}),
    ("media:thumbnail", {"pk": 1}),
    ("media:tag-heatmap", {"pk": 1, "tag_id": 1}),
    ("media:heatmap", {"pk": 1}),
    ("search:search", {}),
    ("ops:health", {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name", "kwargs"), API_ENDPOINTS)
def test_api_endpoint_requires_authentication(method, name, kwargs):
    response = getattr(APIClient(), method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_page_redirects_anonymous_visitor_to_login(client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_login_page_and_health_need_no_login(client, monkeypatch):
    from ops import health

    monkeypatch.setattr(health, "run_checks", lambda: {})
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get(reverse("api:health")).status_code == 200


def test_token_is_issued_for_valid_credentials_and_authenticates(alice):
    client = APIClient()
    response = client.post(reverse("api:token"), {"username": "alice", "password": "pw-123456!"})
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(reverse("api:media-list")).status_code == 200


def test_token_is_refused_for_a_wrong_password(alice):
    response = APIClient().post(reverse("api:token"), {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_login_form_logs_in(client, alice):
    response = client.post(
        reverse("accounts:login"), {"username": "alice", "password": "pw-123456!"}
    )
    assert response.status_code == 302
    assert client.get(reverse("media:library")).status_code == 200


def test_new_users_join_the_member_role(alice):
    assert list(alice.groups.values_list("name", flat=True)) == ["member"]


@pytest.mark.django_db
def test_roles_exist_after_migrations():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"member", "moderator", "operator"}
