"""Failed-login lockouts (accounts.lockout): by username, by client address, on the login page,
the admin login and the token endpoint alike; a success resets the username's count; the
token endpoint's rate throttle counts in the shared database cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from accounts.lockout import Lockout
from accounts.models import LoginThrottle
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from glassbox.config import WebSettings, load_web_settings
from rest_framework.test import APIClient

from tests.web.test_settings import django_settings

PASSWORD = "carol-password-1!"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def limits(settings):
    """Small limits, and a fast hasher so that a dozen attempts take no time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_THROTTLE = {
        "FAILURES_PER_USERNAME": 3,
        "FAILURES_PER_ADDRESS": 6,
        "WINDOW_S": 900,
    }
    return settings.LOGIN_THROTTLE


@pytest.fixture
def carol(limits, db):
    return get_user_model().objects.create_user("carol", "carol@example.test", PASSWORD)


@pytest.fixture
def admin_user(limits, db):
    return get_user_model().objects.create_superuser("boss", "boss@example.test", PASSWORD)


def page_login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def admin_login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def assert_locked(response, who: str) -> None:
    assert response.status_code == 429
    text = response.content.decode()
    assert f"Too many failed log-in attempts {who}" in text
    assert "try again in 15 minutes" in text and "UTC" in text
    assert 890 <= int(response["Retry-After"]) <= 900


def test_the_username_is_locked_after_the_limit_even_for_the_right_password(client, carol):
    for _ in range(3):
        response = page_login(client, "carol", "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert "didn't match" in response.content.decode()
    refused = page_login(client, "carol", PASSWORD)
    assert_locked(refused, "for this username")
    assert "_auth_user_id" not in client.session
    # the lock is on the username, whatever the address and the case typed
    assert_locked(page_login(Client(), "Carol", PASSWORD, address="10.9.9.9"), "for this username")


def test_the_lock_counts_only_failures_and_ends_with_its_window(client, carol):
    for _ in range(3):
        page_login(client, "carol", "wrong")
    row = LoginThrottle.objects.get(kind="username")
    assert row.failures == 3 and row.locked_until is not None
    assert "carol" not in row.key  # a hash, never what was typed
    past = timezone.now() - timedelta(seconds=901)
    LoginThrottle.objects.update(window_started=past, locked_until=past)
    assert page_login(client, "carol", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_usernames_count(client, carol):
    for _ in range(2):
        page_login(client, "carol", "wrong")
    assert page_login(client, "carol", PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(kind="username").exists()
    client.logout()
    for _ in range(2):  # two more: four in all, but never three in a row
        assert page_login(client, "carol", "wrong").status_code == 200
    assert page_login(client, "carol", PASSWORD).status_code == 302


def test_the_address_is_locked_after_its_limit_whatever_the_username(client, carol):
    for n in range(6):  # six usernames, one failure each: no username reaches its limit
        assert page_login(client, f"someone-{n}", "wrong", address="10.0.0.7").status_code == 200
    assert_locked(
        page_login(client, "carol", PASSWORD, address="10.0.0.7"), "from your network address"
    )
    # another address is not affected, and neither is carol's own count
    assert page_login(Client(), "carol", PASSWORD, address="10.0.0.8").status_code == 302


def test_a_success_does_not_reset_the_address(client, carol):
    for n in range(5):
        page_login(client, f"someone-{n}", "wrong")
    assert page_login(client, "carol", PASSWORD).status_code == 302
    client.logout()
    page_login(client, "someone-5", "wrong")  # the sixth failure from this address
    assert page_login(client, "carol", PASSWORD).status_code == 429


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(client, carol, settings):
    for n in range(6):
        client.post(
            reverse("accounts:login"),
            {"username": f"someone-{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",  # a spoofed header does not give a new address
        )
    assert_locked(page_login(client, "carol", PASSWORD), "from your network address")


def test_the_admin_login_is_throttled_too_and_shares_the_count(client, admin_user):
    assert admin_login(client, "boss", "wrong").status_code == 200
    page_login(Client(), "boss", "wrong", address="10.0.0.2")  # the page login counts as well
    assert admin_login(client, "boss", "wrong").status_code == 200
    assert_locked(admin_login(client, "boss", PASSWORD), "for this username")
    assert_locked(page_login(Client(), "boss", PASSWORD, address="10.0.0.3"), "for this username")


def test_the_admin_login_still_logs_in(client, admin_user):
    response = admin_login(client, "boss", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/").status_code in (200, 302)


def test_the_token_endpoint_counts_failures_and_refuses_a_locked_username(carol):
    api = APIClient(REMOTE_ADDR="10.0.0.4")
    url = reverse("api:token")
    for _ in range(3):
        assert api.post(url, {"username": "carol", "password": "wrong"}).status_code == 400
    refused = api.post(url, {"username": "carol", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused["Content-Type"] == PROBLEM
    body = refused.json()
    assert body["type"].endswith("/login_locked") and "for this username" in body["detail"]
    assert int(refused["Retry-After"]) > 0


def test_a_token_success_resets_the_usernames_count(carol, client):
    for _ in range(2):
        page_login(client, "carol", "wrong")
    ok = APIClient().post(reverse("api:token"), {"username": "carol", "password": PASSWORD})
    assert ok.status_code == 200
    assert not LoginThrottle.objects.filter(kind="username").exists()


def test_the_token_rate_throttle_counts_in_the_database_cache(carol, settings):
    settings.TOKEN_THROTTLE_RATE = "2/min"
    assert caches["default"].__class__.__name__ == "DatabaseCache"
    api, url = APIClient(), reverse("api:token")
    for _ in range(2):  # other usernames each time: no lockout, only the rate counts
        assert api.post(url, {"username": "nobody", "password": "x"}).status_code == 400
    throttled = api.post(url, {"username": "carol", "password": PASSWORD})
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == PROBLEM and throttled.json()["type"].endswith("/throttled")
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM glassbox_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any("throttle_token_" in key for key in keys)


def test_the_lockout_message_says_when_to_try_again():
    now = timezone.now()
    lockout = Lockout("address", now + timedelta(seconds=61))
    assert lockout.retry_after_s(now) == 61
    assert "from your network address" in lockout.message(now)
    assert "try again in 2 minutes" in lockout.message(now)
    assert "try again in 1 minute " in Lockout("username", now + timedelta(seconds=5)).message(now)


def test_the_settings_defaults_and_parsing():
    defaults = WebSettings()
    assert (defaults.login_failures_per_username, defaults.login_failures_per_address) == (5, 20)
    assert (defaults.login_throttle_window_s, defaults.num_proxies) == (900, 0)
    assert (defaults.token_max_age_days, defaults.token_throttle_rate) == (30, "30/min")
    web = load_web_settings(
        {
            "GLASSBOX_LOGIN_FAILURES_PER_USERNAME": "7",
            "GLASSBOX_LOGIN_FAILURES_PER_ADDRESS": "50",
            "GLASSBOX_LOGIN_THROTTLE_WINDOW_S": "60",
            "GLASSBOX_NUM_PROXIES": "1",
            "GLASSBOX_TOKEN_MAX_AGE_DAYS": "0",
            "GLASSBOX_TOKEN_THROTTLE_RATE": "10/hour",
        }
    )
    assert (web.login_failures_per_username, web.login_failures_per_address) == (7, 50)
    assert (web.login_throttle_window_s, web.num_proxies) == (60, 1)
    assert (web.token_max_age_days, web.token_throttle_rate) == (0, "10/hour")


def test_a_malformed_token_rate_stops_django():
    result = django_settings(GLASSBOX_DEBUG="1", GLASSBOX_TOKEN_THROTTLE_RATE="lots")
    assert result.returncode != 0
    assert "GLASSBOX_TOKEN_THROTTLE_RATE='lots'" in result.stderr
