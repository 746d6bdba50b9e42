"""API tokens: revoked with DELETE /api/v1/auth/token/, expired after TOKEN_MAX_AGE_DAYS
(401 problem ``token_expired``), and a new one issued after expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PROBLEM = "application/problem+json"
PASSWORD = "pw-123456!"  # tests/web/conftest.py's users


def obtain(username: str = "alice") -> str:
    response = APIClient().post(reverse("api:token"), {"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()["token"]


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def age(key: str, days: float) -> None:
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=days))


def test_a_token_is_revoked_by_delete_and_stops_working(alice):
    key = obtain()
    client = with_token(key)
    assert client.get(reverse("api:media-list")).status_code == 200
    response = client.delete(reverse("api:token"))
    assert response.status_code == 204 and not response.content
    assert not Token.objects.filter(key=key).exists()
    again = client.get(reverse("api:media-list"))
    assert again.status_code == 401 and again["Content-Type"] == PROBLEM
    assert client.delete(reverse("api:token")).status_code == 401
    assert obtain() != key  # a new token after a revoke


def test_revoking_needs_the_token_itself(alice, alice_web):
    anonymous = APIClient().delete(reverse("api:token"))
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == PROBLEM
    assert anonymous["WWW-Authenticate"] == "Token"
    obtain()
    session_only = alice_web.delete(reverse("api:token"))  # a session cannot revoke it
    assert session_only.status_code == 401
    assert Token.objects.filter(user=alice).exists()


def test_revoking_one_users_token_leaves_the_others(alice, bob):
    alice_key, bob_key = obtain("alice"), obtain("bob")
    assert with_token(alice_key).delete(reverse("api:token")).status_code == 204
    assert with_token(bob_key).get(reverse("api:media-list")).status_code == 200


def test_an_expired_token_answers_401_token_expired(alice, settings):
    settings.TOKEN_MAX_AGE_DAYS = 30
    key = obtain()
    age(key, 29.9)
    assert with_token(key).get(reverse("api:media-list")).status_code == 200
    age(key, 30.01)
    response = with_token(key).get(reverse("api:media-list"))
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/token_expired") and body["status"] == 401
    assert "expired" in body["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_obtaining_a_token_after_expiry_gives_a_new_one(alice):
    key = obtain()
    assert obtain() == key  # while it is valid, the same token
    age(key, 31)
    new = obtain()
    assert new != key
    assert with_token(new).get(reverse("api:media-list")).status_code == 200
    assert with_token(key).get(reverse("api:media-list")).status_code == 401


def test_a_stale_authorization_header_does_not_stop_obtaining_a_token(alice):
    key = obtain()
    age(key, 31)
    client = with_token(key)
    response = client.post(reverse("api:token"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token"] != key


def test_a_max_age_of_zero_never_expires(alice, settings):
    settings.TOKEN_MAX_AGE_DAYS = 0
    key = obtain()
    age(key, 3650)
    assert with_token(key).get(reverse("api:media-list")).status_code == 200


def test_an_expired_token_no_longer_fetches_media_files(alice, make_item):
    item = make_item()
    key = obtain()
    url = reverse("media:thumbnail", kwargs={"pk": item.pk})
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    age(key, 31)
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"Token {key}").status_code == 302


@pytest.mark.django_db
def test_the_schema_documents_the_revoke(api):
    response = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    token_path = response.json()["paths"]["/api/v1/auth/token/"]
    assert set(token_path) >= {"post", "delete"}
    delete = token_path["delete"]
    assert "204" in delete["responses"] and "401" in delete["responses"]
    assert delete["security"] == [{"tokenAuth": []}]
    assert {} in token_path["post"].get("security", [{}])  # obtaining needs no credentials
