"""End to end in headless Chromium: an operator opens the dashboard, sees a failed item,
retries it from there and watches it turn ready.

Real everything (the live server, a Celery worker, Redis, Triton, Milvus Lite). The failure
is the one a Triton outage leaves behind (the reason the worker records after its last
retry), written onto an analysed photo; its reason carries markup, which the page must show
as text. The dashboard also shows Triton's statistics for every model the server has loaded.
"""

from __future__ import annotations

import time

import pytest
from accounts.roles import OPERATOR
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from media.actions import commands, lifecycle
from media.models import MediaItem

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REASON = (
    "Analysis failed: the inference service (Triton) was unavailable after 9 tries; "
    "retry later. <b data-testid=injected>bold?</b>"
)


def test_an_operator_retries_a_failed_item_from_the_dashboard_and_watches_it_turn_ready(
    page, log_in, live_server, celery_worker, django_user_model, samples, tmp_path
):
    from glassbox.config import get_settings
    from tritonclient.http import InferenceServerClient

    owner = django_user_model.objects.create_user("photographer", password="pw-123456!")
    photo = samples / "giraffe.jpg"
    upload = SimpleUploadedFile(photo.name, photo.read_bytes(), "image/jpeg")
    item = commands.create_media(owner, upload, "giraffe", "private")
    deadline = time.monotonic() + 180
    while MediaItem.objects.get(pk=item.pk).status != MediaItem.Status.READY:
        assert time.monotonic() < deadline, "the photo did not become ready"
        time.sleep(0.5)
    lifecycle.mark_failed(item.pk, REASON)
    operator = django_user_model.objects.create_user("night-operator", password="pw-operator-1")
    operator.groups.add(Group.objects.get_or_create(name=OPERATOR)[0])

    log_in(page, live_server.url, "night-operator", "pw-operator-1")
    page.goto(f"{live_server.url}/ops/")
    group = page.locator("[data-testid=failure-group]").filter(has_text="after 9 tries")
    group.wait_for(timeout=20_000)
    assert REASON in group.inner_text()  # the markup is text, not an element
    assert page.locator("[data-testid=injected]").count() == 0
    assert f"#{item.pk}" in group.locator("[data-testid=failure-ids]").inner_text()

    client = InferenceServerClient(get_settings().triton_url)
    loaded = sorted(m["name"] for m in client.get_model_repository_index() if m["state"] == "READY")
    client.close()
    for name in loaded:
        row = page.locator(f"[data-testid='triton-{name}']")
        assert row.count() == 1, f"no Triton row for {name}"
        assert "READY" in row.inner_text()
    page.screenshot(path=str(tmp_path / "dashboard-failed.png"), full_page=True)

    group.locator("[data-testid=retry-group]").click()
    watched = page.locator(f"[data-testid=watch-{item.pk}]")
    watched.wait_for(timeout=20_000)
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=watch-{item.pk}]')?.dataset.status"
        " === 'ready'",
        timeout=180_000,
    )
    assert group.count() == 0  # the failure is gone from the list
    assert MediaItem.objects.get(pk=item.pk).status == MediaItem.Status.READY
    page.screenshot(path=str(tmp_path / "dashboard-retried.png"), full_page=True)
    # stop the page's polling and let a refresh in flight finish (it holds a database
    # connection of the live server until it answers, about a second)
    page.goto("about:blank")
    time.sleep(2)
