"""Headless Chromium for the browser tests (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is missing: run `infra/bin/setup --test` (Debian package chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous, so Django's async-safety guard must not trip on them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        yield pg
        context.close()
        browser.close()


@pytest.fixture
def log_in():
    def go(page, base_url: str, username: str, password: str) -> None:
        page.goto(f"{base_url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return go


@pytest.fixture
def member_uploads(log_in, live_server, django_user_model):
    """A new member logs in and uploads a photo through the upload page; returns once the
    item's page says ``ready``."""

    def go(page, username: str, photo, title: str) -> None:
        password = f"{username}-password-1"
        django_user_model.objects.create_user(username, password=password)
        log_in(page, live_server.url, username, password)
        page.goto(f"{live_server.url}/upload/")
        page.set_input_files("#file", str(photo))
        page.fill("#title", title)
        page.click("#upload-form button[type=submit]")
        # the XHR upload reports progress; when it completes the page follows to the item,
        # whose status badge then goes live
        page.wait_for_url("**/media/*/", timeout=30_000)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=status]')?.textContent.trim()"
            " === 'ready'",
            timeout=120_000,
        )

    return go
