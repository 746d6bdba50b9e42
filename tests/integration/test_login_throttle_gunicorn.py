"""Login lockouts and the token endpoint's throttle, over HTTP, against a real gunicorn with two
worker processes: the counts are shared (database rows and the database cache), so the lockout
comes after exactly the configured number of failures, not after that number per worker.

Every request goes on a new connection, and gunicorn's access log names the worker that
served it, so the test also checks that both workers took part (a round that one worker
happened to serve alone is repeated with fresh state). With a per-process cache instead of
the database cache, the token test fails.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter

import pytest
import requests
from glassbox_launch.process import LaunchError, http_ok, start, stop

pytestmark = pytest.mark.integration

PER_USERNAME = 4
ROUNDS = 5  # at most, until both workers served a round (see in_both_workers)
TOKEN_RATE = 6  # per minute
PASSWORD = "erin-password-1!"
# gunicorn's access log: "<pid> METHOD /path HTTP/1.1 status"
ACCESS_FORMAT = "%(p)s %(r)s %(s)s"


@pytest.fixture(scope="module")
def web_url(django_db_setup, django_db_blocker, stack):
    """gunicorn (2 workers) on the test port, on pytest-django's test database, with small
    limits: 4 failures per username, 6 token requests a minute, no address limit in the way."""
    from django.db import connection

    with django_db_blocker.unblock():
        cfg = connection.settings_dict
    if not cfg["ENGINE"].endswith("postgresql"):
        pytest.fail(
            "gunicorn's workers share the test database only on PostgreSQL: run with "
            "GLASSBOX_TEST_DATABASE_URL=postgres://...",
            pytrace=False,
        )
    db_url = (
        f"postgres://{cfg['USER'] or 'postgres'}@{cfg['HOST'] or '127.0.0.1'}:"
        f"{cfg['PORT'] or 5432}/{cfg['NAME']}"
    )
    env = {
        "GLASSBOX_DATABASE_URL": db_url,
        "GLASSBOX_LOGIN_FAILURES_PER_USERNAME": str(PER_USERNAME),
        "GLASSBOX_LOGIN_FAILURES_PER_ADDRESS": "1000",
        "GLASSBOX_TOKEN_THROTTLE_RATE": f"{TOKEN_RATE}/min",
        "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_FORMAT}'",
    }
    url = f"http://127.0.0.1:{stack.ports.web}"
    # ready once the login page answers (the health endpoint would wait on absent services)
    svc = dataclasses.replace(stack.web(env), ready=lambda: http_ok(f"{url}/accounts/login/"))
    stop(svc, echo=lambda _m: None)  # nothing left over from an aborted session
    try:
        start(svc)
    except LaunchError as exc:
        pytest.fail(f"could not start gunicorn for the test: {exc}", pytrace=False)
    yield url, svc
    stop(svc)


def served_by(svc, method: str, path: str, since: int, expected: int) -> Counter:
    """How many ``method path`` requests each gunicorn worker served after log offset
    ``since`` (waiting a little for the log: a worker writes its line after the answer)."""
    pattern = re.compile(rf"^<(\d+)> {method} {re.escape(path)}\S* HTTP/1\.[01] \d+$", re.M)
    deadline = time.monotonic() + 10
    while True:
        with open(svc.log_file, "rb") as fh:
            fh.seek(since)
            text = fh.read().decode(errors="replace")
        workers = Counter(match.group(1) for match in pattern.finditer(text))
        if sum(workers.values()) >= expected or time.monotonic() > deadline:
            return workers
        time.sleep(0.1)


OVERLAP_S = 0.15  # the second request of a pair starts while the first is being served


def in_pairs(calls) -> list:
    """Run ``calls`` (no-argument functions) two at a time, the second started
    ``OVERLAP_S`` after the first, and return their results in order. While one sync worker
    hashes the first password (hundreds of milliseconds) the other must take the second
    connection, so both workers serve; and the second starts after the first has been
    counted (a throttle counts a request when it arrives), so the counting is the same as
    one after another."""
    from concurrent.futures import ThreadPoolExecutor

    results = []
    with ThreadPoolExecutor(2) as pool:
        for k in range(0, len(calls), 2):
            first = pool.submit(calls[k])
            second = None
            if k + 1 < len(calls):
                time.sleep(OVERLAP_S)
                second = pool.submit(calls[k + 1])
            results.append(first.result())
            if second is not None:
                results.append(second.result())
    return results


def log_offset(svc) -> int:
    return svc.log_file.stat().st_size if svc.log_file.exists() else 0


def csrf_pair(url: str) -> tuple[str, str]:
    """The CSRF cookie and the form's token, from a GET of the login form. The cookie is
    ``Secure`` (DEBUG is off), so a client over plain HTTP would not send it back by itself:
    the tests pass it in a Cookie header."""
    page = requests.get(f"{url}/accounts/login/", timeout=30, headers={"Connection": "close"})
    page.raise_for_status()
    cookie = page.cookies.get("csrftoken") or re.search(
        r"csrftoken=([^;]+)", page.headers["Set-Cookie"]
    ).group(1)
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return cookie, form_token


def post_login(url: str, username: str, password: str) -> requests.Response:
    cookie, form_token = csrf_pair(url)
    return requests.post(  # no Session: a new connection every time, either worker may take it
        f"{url}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": form_token},
        headers={"Cookie": f"csrftoken={cookie}", "Connection": "close"},
        allow_redirects=False,
        timeout=60,
    )


def in_both_workers(svc, path: str, expected: int, scenario) -> None:
    """Run ``scenario(round)`` (its assertions included) until both workers served some of its
    ``expected`` POSTs to ``path``: which worker accepts a connection is up to the kernel, and
    a round served by one worker alone would prove nothing about sharing."""
    seen = []
    for round_ in range(ROUNDS):
        since = log_offset(svc)
        scenario(round_)
        workers = served_by(svc, "POST", path, since, expected)
        assert sum(workers.values()) == expected, dict(workers)
        if len(workers) == 2:
            return
        seen.append(dict(workers))
    pytest.fail(f"one worker served every request, in each of {ROUNDS} rounds: {seen}")


@pytest.mark.django_db(transaction=True)
def test_the_page_login_locks_after_exactly_the_limit_across_workers(web_url, django_user_model):
    url, svc = web_url

    def scenario(round_: int) -> None:
        username = f"erin-{round_}"  # a fresh username, so a fresh count
        django_user_model.objects.create_user(username, "erin@example.test", PASSWORD)
        wrong = [lambda: post_login(url, username, "wrong")] * PER_USERNAME
        answers = [r.status_code for r in in_pairs(wrong)]
        assert answers == [200] * PER_USERNAME  # the form again: "didn't match"
        refused = post_login(url, username, PASSWORD)  # the right password, one too late
        assert refused.status_code == 429, refused.text[:500]
        assert "Too many failed log-in attempts for this username" in refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert post_login(url, username, PASSWORD).status_code == 429  # it stays locked

    in_both_workers(svc, "/accounts/login/", PER_USERNAME + 2, scenario)


@pytest.mark.django_db(transaction=True)
def test_the_token_throttle_counts_across_workers(web_url, django_user_model):
    from django.core.cache import cache

    url, svc = web_url
    django_user_model.objects.create_user("frank", "frank@example.test", PASSWORD)

    def token(username: str, password: str) -> requests.Response:
        return requests.post(
            f"{url}/api/v1/auth/token/",
            json={"username": username, "password": password},
            headers={"Connection": "close"},
            timeout=60,
        )

    def scenario(round_: int) -> None:
        # the throttle's history lives in the database cache, which outlives transactional
        # tests' flushes: start each round from none
        cache.clear()
        # a different unknown username each time, in every round: no username lockout (its
        # failures outlive the rounds), only the rate counts
        calls = [lambda n=n: token(f"nobody-{round_}-{n}", "wrong") for n in range(TOKEN_RATE)]
        answers = [r.status_code for r in in_pairs(calls)]
        assert answers == [400] * TOKEN_RATE
        throttled = token("frank", PASSWORD)
        assert throttled.status_code == 429, throttled.text[:500]
        assert throttled.headers["Content-Type"] == "application/problem+json"
        assert throttled.json()["type"].endswith("/throttled")
        assert int(throttled.headers["Retry-After"]) > 0

    in_both_workers(svc, "/api/v1/auth/token/", TOKEN_RATE + 1, scenario)
