"""The Content-Security-Policy: on every response (pages, API, static files, errors), and the
templates keep to it (no inline scripts, event handlers, javascript: URLs or style blocks),
as do the pages the app and the Django admin render."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from glassbox_web.middleware import CONTENT_SECURITY_POLICY
from rest_framework.test import APIClient

CSP = "Content-Security-Policy"
WEB = Path(__file__).resolve().parents[2] / "web"


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_policy_allows_scripts_and_styles_only_from_our_origin():
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["style-src-attr"] == "'unsafe-inline'"  # the evidence boxes' style=""
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in policy["script-src"] + policy["style-src"]


@pytest.mark.django_db
def test_a_page_carries_the_policy(alice_web):
    for response in (Client().get(reverse("accounts:login")), alice_web.get("/")):
        assert response.status_code == 200
        assert response[CSP] == CONTENT_SECURITY_POLICY


def test_an_api_response_carries_the_policy(api, monkeypatch):
    from ops import health

    monkeypatch.setattr(health, "run_checks", dict)
    assert api.get(reverse("api:media-list"))[CSP] == CONTENT_SECURITY_POLICY
    assert APIClient().get(reverse("api:health"))[CSP] == CONTENT_SECURITY_POLICY
    refused = APIClient().get(reverse("api:media-list"))
    assert refused.status_code == 401 and refused[CSP] == CONTENT_SECURITY_POLICY


@pytest.mark.django_db
def test_error_responses_carry_the_policy(alice_web):
    for path in ("/no-such-page/", "/api/v1/no-such-endpoint/"):
        response = alice_web.get(path)
        assert response.status_code == 404
        assert response[CSP] == CONTENT_SECURITY_POLICY
    forbidden = alice_web.get(reverse("ops:health"))  # a member, not an operator
    assert forbidden.status_code == 403 and forbidden[CSP] == CONTENT_SECURITY_POLICY


@pytest.mark.django_db
def test_static_files_carry_the_policy():
    response = Client().get("/static/glassbox/app.js")
    assert response.status_code == 200 and response[CSP] == CONTENT_SECURITY_POLICY


# --- the templates and the rendered pages keep to the policy -------------------------------

TEMPLATES = sorted(WEB.glob("**/templates/**/*.html"))
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*[\s\"'%}]on[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript\s*:", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style\b", re.IGNORECASE)


def test_the_scan_finds_the_templates_and_what_it_looks_for():
    names = {t.name for t in TEMPLATES}
    assert {"base.html", "detail.html", "search.html", "login.html"} <= names
    assert {"_video.html", "_range.html"} <= names  # a video's player and timeline
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert INLINE_SCRIPT.search('<script type="module">x()</script>')
    assert not INLINE_SCRIPT.search('<script src="/static/a.js" defer></script>')
    assert EVENT_HANDLER.search('<button type="button" onclick="go()">')
    assert EVENT_HANDLER.search('<img {% if x %}onerror="go()"{% endif %}>')
    assert not EVENT_HANDLER.search('<p class="phrase" data-phrase="one">on the grass</p>')
    assert JS_URL.search('<a href="JavaScript:go()">') and STYLE_BLOCK.search("<style>")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: str(t.relative_to(WEB)))
def test_templates_have_no_inline_script_handler_js_url_or_style_block(template: Path):
    source = template.read_text()
    for rule, pattern in [
        ("an inline <script> (use a file under web/static)", INLINE_SCRIPT),
        ("an on*= event handler (bind it in web/static/glassbox/app.js)", EVENT_HANDLER),
        ("a javascript: URL", JS_URL),
        ("a <style> block (use web/static/glassbox/app.css)", STYLE_BLOCK),
    ]:
        found = pattern.search(source)
        assert found is None, f"{template.relative_to(WEB)} has {rule}: {found.group(0)!r}"


class InlineCode(HTMLParser):
    """Collects what the policy would block in a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.blocked.append("inline <script>")
        if tag == "style":
            self.blocked.append("<style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=>")
            if value and value.strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}=javascript:>")


def blocked(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.blocked


def test_rendered_pages_have_no_inline_code(alice_web, make_item, fake_services):
    item = make_item(title="photo")
    fake_services.index.ids = [item.pk]
    for url in (
        reverse("media:library"),
        reverse("media:upload"),
        reverse("media:detail", args=[item.pk]),
        reverse("search:search") + "?q=dog",
    ):
        response = alice_web.get(url)
        assert response.status_code == 200, url
        assert blocked(response.content.decode()) == [], url
    assert 'style="left:' in alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()


def test_a_video_page_has_no_inline_code(alice_web, alice):
    from .test_video_views import make_video

    playing = make_video(alice)
    pending = make_video(alice, status="processing", proxy=False, proxy_mime="")
    for video, shown in ((playing, "<video"), (pending, 'data-testid="no-player"')):
        response = alice_web.get(reverse("media:detail", args=[video.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        assert blocked(html) == [] and shown in html
        assert '<script src="/static/glassbox/player.js" defer></script>' in html


def test_the_admin_renders_without_inline_code(admin_client):
    group = Group.objects.get(name="operator")
    for url in (
        "/admin/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/group/{group.pk}/change/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response[CSP] == CONTENT_SECURITY_POLICY
        assert blocked(response.content.decode()) == [], url
    assert blocked(Client().get("/admin/login/").content.decode()) == []
