"""Moderation's pages (issue 12): the review queue and its forms, the flag's evidence files,
the owner's banner and appeal on the item page, the player's flag marks, the audit page and
its CSV export.

The page rows of the authorisation matrix (every page for anonymous, member, owner,
moderator, operator and admin; only the intended roles get in), the escaping of a
moderator's reason and an owner's appeal message wherever they are shown, and a collision
shown as a message with the flag's current state.

Flags are made the way the worker makes them: an analysis carrying policy hits, stored by
``media.actions.lifecycle.record_analysis`` (``moderation.storing``); every change after that
goes through ``moderation.actions``, as the pages do.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from media.actions import commands, lifecycle
from media.models import MediaItem
from moderation import actions, storing
from moderation.models import AuditEvent, Flag
from moderation.views import age_label, safe_cell
from PIL import Image

from .conftest import fake_analysis, jpeg
from .test_security_headers import blocked

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PHONE_BOX = [0.1, 0.2, 0.6, 0.35]


def hit(policy="personal-data", score=0.93, hide=False, text="call 555 0134", **extra) -> dict:
    """A policy hit as ``Analysis.flags`` carries it (``FlagHit.as_dict()``)."""
    return {
        "policy": policy,
        "score": score,
        "hide": hide,
        "rule": f"personal data in read text: phone number “{text}” read at {score:.2f} ≥ 0.50",
        "evidence": [
            {
                "kind": "text",
                "label": "phone",
                "score": score,
                "box": PHONE_BOX,
                "concept": None,
                "text": text,
            }
        ],
        "counterfactual": {
            "before": score,
            "after": 0.0,
            "masked": 1,
            "text": f"masking this region drops the score from {score:.2f} to 0.00",
        },
    } | extra


def concept_hit(concept=3, score=0.7) -> dict:
    return {
        "policy": "weapons",
        "score": score,
        "hide": False,
        "rule": f"weapons: concept <{concept}> {score:.2f} ≥ 0.50",
        "evidence": [
            {
                "kind": "concept",
                "label": f"concept <{concept}>",
                "score": score,
                "box": None,
                "concept": concept,
                "text": None,
            }
        ],
        "counterfactual": None,
    }


# -- people ---------------------------------------------------------------------------------


def _user(django_user_model, username: str, role: str | None = None, superuser=False):
    user = django_user_model.objects.create_user(username, f"{username}@example.test", "pw-1!")
    if superuser:
        user.is_superuser = True
        user.save()
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def people(db, django_user_model, alice):
    """alice owns the items; bob is another member; mod and mod2 are moderators; ops is an
    operator; root is an admin (a superuser)."""
    return {
        "owner": alice,
        "member": _user(django_user_model, "bob"),
        "moderator": _user(django_user_model, "mod", "moderator"),
        "moderator2": _user(django_user_model, "mod2", "moderator"),
        "operator": _user(django_user_model, "ops", "operator"),
        "admin": _user(django_user_model, "root", superuser=True),
    }


def client_for(user) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


@pytest.fixture
def make_flagged(alice, bank_embeddings, django_capture_on_commit_callbacks):
    """An analysed image of alice's whose analysis raised ``hits``."""

    def make(*hits, owner=None, visibility="public", title="card"):
        upload = SimpleUploadedFile("card.jpg", jpeg(), content_type="image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            item = commands.create_media(owner or alice, upload, title, visibility)
        analysis = dataclasses.replace(fake_analysis(bank_embeddings), flags=list(hits))
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.record_analysis(item.pk, analysis)
        lifecycle.mark_indexed(item.pk)
        item.refresh_from_db()
        return item

    return make


@pytest.fixture
def flagged(make_flagged):
    return make_flagged(hit())


def the_flag(item) -> Flag:
    return Flag.objects.get(item=item)


def confirm(flag: Flag, user, reason="phone number on the card") -> Flag:
    flag = actions.claim(flag.pk, user, flag.version)
    return actions.decide(flag.pk, user, flag.version, "confirm", reason)


class Elements(HTMLParser):
    """Start tags with their attributes, to look elements up by attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {k: v if v is not None else "" for k, v in attrs}))

    def all(self, tag=None, **attrs) -> list[dict]:
        return [
            a
            for t, a in self.found
            if (tag is None or t == tag) and all(a.get(k) == v for k, v in attrs.items())
        ]


def parsed(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# -- the authorisation matrix: pages -----------------------------------------------------------

ROLES = ("anonymous", "member", "owner", "moderator", "operator", "admin")
MODERATORS = {"moderator", "admin"}


def _matrix_user(people, role):
    return None if role == "anonymous" else people[role]


def _expect_login(response):
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_page_is_for_moderators_only(people, flagged, role):
    response = client_for(_matrix_user(people, role)).get(reverse("moderation:queue"))
    if role == "anonymous":
        _expect_login(response)
    elif role in MODERATORS:
        assert response.status_code == 200
        assert b'data-testid="queue-entry"' in response.content
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("form", ["claim", "release", "decide"])
def test_the_queue_forms_are_for_moderators_only(people, flagged, role, form):
    flag = the_flag(flagged)
    if form == "release":  # something to release: the moderator's own claim, else mod2's
        holder = people["moderator"] if role == "moderator" else people["moderator2"]
        flag = actions.claim(flag.pk, holder, flag.version)
    data = {"version": flag.version, "decision": "dismiss", "reason": "false positive"}
    response = client_for(_matrix_user(people, role)).post(
        reverse(f"moderation:{form}", args=[flag.pk]), data
    )
    after = Flag.objects.get(pk=flag.pk)
    if role == "anonymous":
        _expect_login(response)
        assert after.version == flag.version
    elif role in MODERATORS:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("moderation:queue"))
    else:
        assert response.status_code == 403
        assert after.version == flag.version  # nothing changed


@pytest.mark.parametrize("role", ROLES)
def test_the_bulk_form_is_for_moderators_only(people, flagged, role):
    flag = the_flag(flagged)
    data = {"flag": [flag.pk], "decision": "dismiss", "reason": "false positive"}
    response = client_for(_matrix_user(people, role)).post(reverse("moderation:bulk"), data)
    after = Flag.objects.get(pk=flag.pk)
    if role == "anonymous":
        _expect_login(response)
    elif role in MODERATORS:
        assert response.status_code == 302 and after.state == "dismissed"
    else:
        assert response.status_code == 403 and after.state == "pending"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("view", ["flag-image", "flag-heatmap"])
def test_a_flags_evidence_files_are_for_moderators_and_the_owner(people, make_flagged, role, view):
    item = make_flagged(concept_hit(), visibility="private")
    flag = the_flag(item)
    response = client_for(_matrix_user(people, role)).get(
        reverse(f"moderation:{view}", args=[flag.pk])
    )
    if role == "anonymous":
        _expect_login(response)
    elif role in MODERATORS or role == "owner":
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        image = Image.open(io.BytesIO(body))
        assert image.size[0] > 0
        if view == "flag-heatmap":
            assert response["Content-Type"] == "image/png" and image.mode == "RGBA"
    else:
        assert response.status_code == 404  # operators and other members never see media


@pytest.mark.parametrize("role", ROLES)
def test_only_the_owner_can_appeal(people, flagged, role):
    flag = confirm(the_flag(flagged), people["moderator"])
    response = client_for(_matrix_user(people, role)).post(
        reverse("moderation:appeal", args=[flagged.pk]), {"message": "It is my own number."}
    )
    after = Flag.objects.get(pk=flag.pk)
    if role == "anonymous":
        _expect_login(response)
    elif role == "owner":
        assert response.status_code == 302
        assert response["Location"] == reverse("media:detail", args=[flagged.pk]) + "#moderation"
        assert after.state == "appealed" and after.appeal.message == "It is my own number."
    else:
        assert response.status_code == 404
        assert after.state == "confirmed"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["moderation:audit", "moderation:audit-csv"])
def test_the_audit_page_and_export_are_for_admins_only(people, flagged, role, name):
    response = client_for(_matrix_user(people, role)).get(reverse(name))
    if role == "anonymous":
        _expect_login(response)
    elif role == "admin":
        assert response.status_code == 200
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_the_item_pages_banner_is_for_the_owner_and_moderators(people, flagged, role):
    """A public item flagged below the hide threshold: everyone signed in sees the page, only
    the owner and moderators see why it is under review."""
    response = client_for(_matrix_user(people, role)).get(
        reverse("media:detail", args=[flagged.pk])
    )
    if role == "anonymous":
        _expect_login(response)
        return
    assert response.status_code == 200
    shown = b'data-testid="moderation-banner"' in response.content
    assert shown == (role in MODERATORS or role == "owner")


def test_a_hidden_item_is_its_owners_only_and_the_owner_is_told_why(people, make_flagged):
    item = make_flagged(hit(score=0.95, hide=True))
    assert (
        client_for(people["member"]).get(reverse("media:detail", args=[item.pk])).status_code == 404
    )
    response = client_for(people["owner"]).get(reverse("media:detail", args=[item.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    page = parsed(html)
    (banner,) = page.all("section", **{"data-testid": "moderation-banner"})
    assert banner["data-tone"] == "hidden"
    assert "Hidden until reviewed" in html
    assert "phone number “call 555 0134” read at 0.95" in html  # the rule
    assert "masking this region drops the score from 0.95 to 0.00" in html
    (boxes,) = page.all("div", **{"data-testid": "evidence-boxes"})
    assert "hidden" in boxes  # off until the owner turns the overlay on
    (toggle,) = page.all("input", **{"data-testid": "evidence-toggle"})
    assert toggle["data-box"] == boxes["id"]
    assert page.all("div", style="left:10.00%;top:20.00%;width:50.00%;height:15.00%")
    assert not page.all("form", **{"data-testid": "appeal-form"})  # nothing confirmed yet
    assert blocked(html) == []


# -- the review queue ------------------------------------------------------------------------


def test_the_queue_shows_each_flag_with_its_evidence_rule_counterfactual_and_age(
    people, make_flagged
):
    earlier = make_flagged(hit(text="555 0100"), title="older card")
    actions.decide(the_flag(earlier).pk, people["moderator2"], 1, "dismiss", "a shop's number")
    item = make_flagged(hit())
    response = client_for(people["moderator"]).get(reverse("moderation:queue"))
    assert response.status_code == 200
    html = response.content.decode()
    page = parsed(html)
    flag = the_flag(item)
    (entry,) = page.all("li", **{"data-testid": "queue-entry"})
    assert entry["id"] == f"flag-{flag.pk}" and entry["data-state"] == "pending"
    (image,) = page.all("img", **{"data-testid": "flag-image"})
    assert image["src"] == reverse("moderation:flag-image", args=[flag.pk])
    (boxes,) = page.all("div", **{"data-testid": "evidence-boxes"})
    (toggle,) = page.all("input", **{"data-testid": "evidence-toggle"})
    assert toggle["class"] == "overlay-toggle" and toggle["data-box"] == boxes["id"]
    assert page.all("div", style="left:10.00%;top:20.00%;width:50.00%;height:15.00%")
    assert "phone number “call 555 0134” read at 0.93 ≥ 0.50" in html
    assert "masking this region drops the score from 0.93 to 0.00" in html
    assert "personal data in read text" in html  # the policy's name
    assert "just now old" in html  # the age
    # the owner's earlier flags: the dismissed one on the older card
    earlier_block = html.split('data-testid="earlier-flags"')[1].split("</div>")[0]
    assert "1 dismissed" in earlier_block and "older card" in earlier_block
    # claim first: no decision form until the flag is the moderator's
    assert page.all("button", **{"data-testid": "claim"})
    assert not page.all("form", **{"data-testid": "decide-form"})
    # the keyboard shortcuts are on the page
    shortcuts = html.split('data-testid="shortcuts"')[1].split("</dl>")[0]
    for key in ("j", "k", "v", "a", "d", "c", "e", "r", "u", "x"):
        assert f"<kbd>{key}</kbd>" in shortcuts
    assert page.all("script", src="/static/glassbox/moderation.js")
    assert blocked(html) == []


def test_a_claimed_flag_offers_the_decisions_each_with_its_key(people, flagged):
    flag = actions.claim(the_flag(flagged).pk, people["moderator"], 1)
    page = parsed(client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode())
    (form,) = page.all("form", **{"data-testid": "decide-form"})
    assert form["action"] == reverse("moderation:decide", args=[flag.pk])
    buttons = page.all("button", name="decision")
    assert [(b["value"], b["data-key"]) for b in buttons] == [
        ("dismiss", "d"),
        ("confirm", "c"),
        ("escalate", "e"),
    ]
    (version,) = [a for a in page.all("input", name="version") if a["value"] == str(flag.version)][
        :1
    ]
    assert version
    (reason,) = page.all("input", name="reason", **{"data-testid": "reason"})
    assert "required" in reason and reason["maxlength"] == str(actions.MAX_REASON)
    # another moderator sees who holds it, and cannot claim it
    other = parsed(
        client_for(people["moderator2"]).get(reverse("moderation:queue")).content.decode()
    )
    assert not other.all("button", **{"data-testid": "claim"})
    assert other.all("p", **{"data-testid": "held"})


def test_claim_then_confirm_through_the_pages(people, flagged):
    mod = client_for(people["moderator"])
    flag = the_flag(flagged)
    response = mod.post(
        reverse("moderation:claim", args=[flag.pk]),
        {"version": flag.version, "next": reverse("moderation:queue") + "?order=score"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("moderation:queue") + f"?order=score#flag-{flag.pk}"
    flag.refresh_from_db()
    assert flag.state == "claimed" and flag.claimed_by == people["moderator"]
    response = mod.post(
        reverse("moderation:decide", args=[flag.pk]),
        {"version": flag.version, "decision": "confirm", "reason": "a phone number"},
        follow=True,
    )
    assert response.status_code == 200
    assert any("confirmed" in m for m in messages_of(response))
    flag.refresh_from_db()
    assert flag.state == "confirmed" and flag.reason == "a phone number"
    assert flag.decided_by == people["moderator"]
    # the item is now restricted: out of another member's view
    assert (
        client_for(people["member"]).get(reverse("media:detail", args=[flagged.pk])).status_code
        == 404
    )
    # and the audit trail has both steps
    assert list(
        AuditEvent.objects.filter(flag=flag).order_by("at", "id").values_list("action", flat=True)
    ) == ["flag.created", "flag.claimed", "flag.confirmed"]


def test_a_decision_needs_a_reason_and_a_known_decision(people, flagged):
    mod = client_for(people["moderator"])
    flag = actions.claim(the_flag(flagged).pk, people["moderator"], 1)
    for data in (
        {"version": flag.version, "decision": "confirm", "reason": "  "},
        {"version": flag.version, "decision": "delete", "reason": "why not"},
        {"version": flag.version, "decision": "confirm", "reason": "x" * (actions.MAX_REASON + 1)},
    ):
        response = mod.post(reverse("moderation:decide", args=[flag.pk]), data, follow=True)
        assert response.status_code == 200
        assert any("was not changed" in m for m in messages_of(response)), data
    assert Flag.objects.get(pk=flag.pk).state == "claimed"


def test_a_collision_is_a_message_with_the_current_state_not_an_error_page(people, flagged):
    flag = the_flag(flagged)
    seen = flag.version
    actions.claim(flag.pk, people["moderator2"], seen)  # mod2 was quicker
    response = client_for(people["moderator"]).post(
        reverse("moderation:claim", args=[flag.pk]), {"version": seen}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain[0][1] == 302
    (message,) = messages_of(response)
    assert f"Flag {flag.pk} (personal-data) was not changed" in message
    assert "It is now claimed, claimed by mod2, version 2 (you saw version 1)." in message
    html = response.content.decode()
    assert "claimed by mod2" in html  # shown on the queue page it lands on


def test_deciding_what_someone_else_decided_says_who_and_what(people, flagged):
    flag = the_flag(flagged)
    actions.decide(flag.pk, people["moderator2"], flag.version, "dismiss", "not a phone")
    response = client_for(people["moderator"]).post(
        reverse("moderation:decide", args=[flag.pk]),
        {"version": flag.version, "decision": "confirm", "reason": "a phone"},
        follow=True,
    )
    (message,) = messages_of(response)
    assert "It is now dismissed, decided by mod2, version 2 (you saw version 1)." in message
    assert Flag.objects.get(pk=flag.pk).state == "dismissed"


def test_filters_order_and_a_bad_filter(people, make_flagged):
    low = make_flagged(hit(score=0.6), title="low")
    high = make_flagged(hit(score=0.9), title="high")
    weapon = make_flagged(concept_hit(), title="weapon")
    mod = client_for(people["moderator"])

    def ids(query: str) -> list[int]:
        html = mod.get(reverse("moderation:queue") + query).content.decode()
        return [int(x) for x in re.findall(r'<li class="mod-entry" id="flag-(\d+)"', html)]

    flag = {i.title: the_flag(i).pk for i in (low, high, weapon)}
    assert ids("") == [flag["low"], flag["high"], flag["weapon"]]  # oldest first
    assert ids("?order=score") == [flag["high"], flag["weapon"], flag["low"]]
    assert ids("?policy=weapons") == [flag["weapon"]]
    assert ids("?kind=video") == []
    assert ids("?age=1d") == []  # none is a day old
    response = mod.get(reverse("moderation:queue") + "?policy=no-such&order=sideways")
    assert response.status_code == 400
    assert b'data-testid="queue-error"' in response.content


def test_bulk_decides_the_selected_and_names_what_it_could_not(people, make_flagged):
    a, b = make_flagged(hit(), title="a"), make_flagged(hit(), title="b")
    fa, fb = the_flag(a), the_flag(b)
    actions.claim(fb.pk, people["moderator2"], fb.version)  # b is mod2's
    response = client_for(people["moderator"]).post(
        reverse("moderation:bulk"),
        {"flag": [fa.pk, fb.pk], "decision": "dismiss", "reason": "shop numbers"},
        follow=True,
    )
    found = messages_of(response)
    assert f"1 flag dismissed: {fa.pk}." in found
    assert any(f"Flag {fb.pk} (personal-data) was not changed" in m for m in found)
    assert Flag.objects.get(pk=fa.pk).state == "dismissed"
    assert Flag.objects.get(pk=fb.pk).state == "claimed"
    nothing = client_for(people["moderator"]).post(
        reverse("moderation:bulk"), {"decision": "dismiss", "reason": "r"}, follow=True
    )
    assert any("select at least one flag" in m for m in messages_of(nothing))


def test_the_precision_table_shows_each_policys_decisions(people, make_flagged):
    for n in range(3):
        item = make_flagged(hit(score=0.6 + n * 0.1), title=f"c{n}")
        decision = "confirm" if n else "dismiss"
        actions.decide(the_flag(item).pk, people["moderator"], 1, decision, "reviewed")
    html = client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode()
    table = html.split('data-testid="precision"')[1].split("</table>")[0]
    row = table.split('data-policy="personal-data"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1] == "2" and cells[2] == "1"
    assert ">0.67<" in row  # 2 confirmed of 3 decided
    assert "0.5: " in row or "0.6–0.7: 1 dismissed" in row  # the histogram's titles
    assert "not enough decisions" in row  # 3 < MIN_DECISIONS


def test_a_video_flag_shows_its_time_range_and_keyframe(people, alice):
    from .test_video_views import make_video

    video = make_video(alice, visibility="public")
    shots = list(video.shots.order_by("index"))
    storing.store_window_hits(shots[2], [hit(text="EXIT 555 0134")])
    storing.store_video_flags(video)
    flag = the_flag(video)
    assert (flag.start_s, flag.end_s, flag.keyframe_id) == (4.0, 6.0, shots[2].pk)
    html = client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode()
    page = parsed(html)
    (span,) = page.all("span", **{"data-testid": "time-range"})
    assert span["data-start"] == "4.000" and "0:04–0:06" in html
    image = client_for(people["moderator"]).get(reverse("moderation:flag-image", args=[flag.pk]))
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    # the player marks the flag's range on the timeline, from the Flag row
    html = client_for(alice).get(reverse("media:detail", args=[video.pk])).content.decode()
    page = parsed(html)
    ranges = [r for r in page.all("button", **{"data-testid": "range"}) if r["data-kind"] == "flag"]
    (mark,) = ranges
    assert (mark["data-start"], mark["data-end"], mark["data-shot"]) == ("4.000", "6.000", "2")
    assert mark["data-preview"] == reverse("media:keyframe", args=[video.pk, 2])
    assert json.loads(mark["data-boxes"]) == [PHONE_BOX]
    assert mark["aria-label"].startswith("Flagged (pending): personal data in read text")
    # dismissed: the mark goes
    actions.decide(flag.pk, people["moderator"], flag.version, "dismiss", "an exit sign")
    html = client_for(alice).get(reverse("media:detail", args=[video.pk])).content.decode()
    assert not [
        r
        for r in parsed(html).all("button", **{"data-testid": "range"})
        if r["data-kind"] == "flag"
    ]


def test_a_concept_flag_draws_its_heat_map(people, make_flagged):
    item = make_flagged(concept_hit(concept=3))
    html = client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode()
    page = parsed(html)
    (heat,) = page.all("img", **{"data-testid": "evidence-heatmap"})
    flag = the_flag(item)
    assert heat["src"] == reverse("moderation:flag-heatmap", args=[flag.pk]) and "hidden" in heat
    (toggle,) = page.all("input", **{"data-testid": "evidence-toggle"})
    assert toggle["data-heat"] == heat["id"]
    png = client_for(people["moderator"]).get(heat["src"])
    overlay = Image.open(io.BytesIO(png.content))
    assert overlay.size == (448, 336)  # the item's 64x48 aspect, longest side 448
    # a concept the analysis kept no map of: no heat map, and its URL is 404
    other = make_flagged(concept_hit(concept=9), title="no map")
    flag9 = the_flag(other)
    assert (
        client_for(people["moderator"])
        .get(reverse("moderation:flag-heatmap", args=[flag9.pk]))
        .status_code
        == 404
    )


# -- the owner's view and appeal -----------------------------------------------------------------


def test_the_owner_sees_a_confirmed_flag_with_the_reason_and_appeals_once(people, flagged):
    flag = confirm(the_flag(flagged), people["moderator"], reason=f"phone {XSS}")
    owner = client_for(people["owner"])
    html = owner.get(reverse("media:detail", args=[flagged.pk])).content.decode()
    page = parsed(html)
    (banner,) = page.all("section", **{"data-testid": "moderation-banner"})
    assert banner["data-tone"] == "restricted"
    (form,) = page.all("form", **{"data-testid": "appeal-form"})
    assert form["action"] == reverse("moderation:appeal", args=[flagged.pk])
    (area,) = page.all("textarea", name="message")
    assert "required" in area and area["maxlength"] == str(actions.MAX_MESSAGE)
    assert XSS not in html and f"phone {ESCAPED}" in html
    # a message is required, and limited
    for message in ("", "   ", "x" * (actions.MAX_MESSAGE + 1)):
        response = owner.post(
            reverse("moderation:appeal", args=[flagged.pk]), {"message": message}, follow=True
        )
        assert any("The appeal was not sent" in m for m in messages_of(response))
    assert Flag.objects.get(pk=flag.pk).state == "confirmed"
    response = owner.post(
        reverse("moderation:appeal", args=[flagged.pk]),
        {"message": "My shop's number."},
        follow=True,
    )
    assert any("Your appeal was sent" in m for m in messages_of(response))
    html = response.content.decode()
    assert "My shop&#x27;s number." in html  # shown back to the owner
    assert not parsed(html).all("form", **{"data-testid": "appeal-form"})  # once
    again = owner.post(
        reverse("moderation:appeal", args=[flagged.pk]), {"message": "Again!"}, follow=True
    )
    assert any("already appealed" in m for m in messages_of(again))
    assert Flag.objects.get(pk=flag.pk).appeal.message == "My shop's number."


def test_an_appeal_goes_to_another_moderator(people, flagged):
    flag = confirm(the_flag(flagged), people["moderator"])
    actions.appeal(flagged, people["owner"], "My shop's number.")
    flag = actions.claim(flag.pk, people["moderator"], Flag.objects.get(pk=flag.pk).version)
    page = parsed(client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode())
    assert not page.all("form", **{"data-testid": "decide-form"})  # who confirmed does not decide
    actions.release(flag.pk, people["moderator"], flag.version)
    flag = actions.claim(flag.pk, people["moderator2"], Flag.objects.get(pk=flag.pk).version)
    page = parsed(
        client_for(people["moderator2"]).get(reverse("moderation:queue")).content.decode()
    )
    assert [(b["value"], b["data-key"]) for b in page.all("button", name="decision")] == [
        ("reinstate", "r"),
        ("uphold", "u"),
    ]
    response = client_for(people["moderator2"]).post(
        reverse("moderation:decide", args=[flag.pk]),
        {"version": flag.version, "decision": "reinstate", "reason": "a business number"},
        follow=True,
    )
    assert any("reinstated" in m for m in messages_of(response))
    assert Flag.objects.get(pk=flag.pk).state == "reinstated"
    assert (
        client_for(people["member"]).get(reverse("media:detail", args=[flagged.pk])).status_code
        == 200
    )


# -- escaping: a moderator's reason and an owner's appeal message, wherever shown ---------------


def test_reasons_and_appeal_messages_are_escaped_everywhere(people, flagged):
    flag = confirm(the_flag(flagged), people["moderator"], reason=f"reason {XSS}")
    actions.appeal(flagged, people["owner"], f"appeal {XSS}")
    pages = {
        "queue": client_for(people["moderator2"]).get(reverse("moderation:queue")),
        "owner": client_for(people["owner"]).get(reverse("media:detail", args=[flagged.pk])),
        "audit": client_for(people["admin"]).get(reverse("moderation:audit")),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert XSS not in html, name
        assert f"reason {ESCAPED}" in html, name
        assert f"appeal {ESCAPED}" in html, name
        assert blocked(html) == [], name
    assert Flag.objects.get(pk=flag.pk).state == "appealed"


def test_read_text_in_a_rule_is_escaped(people, make_flagged):
    make_flagged(hit(text=f"555 {XSS}"))
    html = client_for(people["moderator"]).get(reverse("moderation:queue")).content.decode()
    assert XSS not in html and f"555 {ESCAPED}" in html


# -- the audit page and its CSV export --------------------------------------------------------


def test_the_audit_page_lists_every_step_with_filters_and_pages(people, flagged):
    flag = confirm(the_flag(flagged), people["moderator"])
    admin = client_for(people["admin"])
    html = admin.get(reverse("moderation:audit")).content.decode()
    actions_shown = [
        a["data-action"] for a in parsed(html).all("tr", **{"data-testid": "audit-row"})
    ]
    assert {"flag.created", "flag.claimed", "flag.confirmed", "item.visibility"} <= set(
        actions_shown
    )
    by_flag = admin.get(reverse("moderation:audit") + f"?flag={flag.pk}&actor=mod").content.decode()
    shown = [a["data-action"] for a in parsed(by_flag).all("tr", **{"data-testid": "audit-row"})]
    assert shown == [
        "flag.confirmed",
        "flag.claimed",
    ]  # newest first, the system's creation left out
    system = admin.get(reverse("moderation:audit") + "?actor=system&action=flag.created").content
    assert [
        a["data-action"] for a in parsed(system.decode()).all("tr", **{"data-testid": "audit-row"})
    ] == ["flag.created"]
    assert admin.get(reverse("moderation:audit") + "?item=abc").status_code == 400


def test_the_audit_page_is_paginated(people, flagged):
    flag = the_flag(flagged)
    for _ in range(30):  # 60 events: a claim and a release each time
        flag = actions.claim(flag.pk, people["moderator"], flag.version)
        flag = actions.release(flag.pk, people["moderator"], flag.version)
    admin = client_for(people["admin"])
    total = AuditEvent.objects.count()
    first = admin.get(reverse("moderation:audit") + "?actor=mod")
    assert "60 events" in first.content.decode() and total > 60
    rows = parsed(first.content.decode()).all("tr", **{"data-testid": "audit-row"})
    assert len(rows) == 50
    second = admin.get(reverse("moderation:audit") + "?actor=mod&page=2").content.decode()
    assert len(parsed(second).all("tr", **{"data-testid": "audit-row"})) == 10
    assert "Page 2 of 2" in second and "actor=mod&amp;page=1" in second


def test_the_csv_export_is_streamed_filtered_and_safe_from_formulas(people, flagged):
    flag = the_flag(flagged)
    flag = actions.claim(flag.pk, people["moderator"], flag.version)
    actions.decide(flag.pk, people["moderator"], flag.version, "dismiss", '=HYPERLINK("http://x")')
    response = client_for(people["admin"]).get(reverse("moderation:audit-csv"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="glassbox-audit.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "at",
        "actor",
        "action",
        "flag",
        "item",
        "policy",
        "before",
        "after",
        "reason",
    ]
    body = rows[1:]
    assert [r[2] for r in body if r[3] == str(flag.pk)] == [
        "flag.created",
        "flag.claimed",
        "flag.dismissed",
    ]  # oldest first
    dismissed = next(r for r in body if r[2] == "flag.dismissed")
    assert dismissed[1] == "mod" and dismissed[5] == "personal-data"
    assert dismissed[8] == '\'=HYPERLINK("http://x")'  # not a formula
    assert json.loads(dismissed[6])["state"] == "claimed"
    assert json.loads(dismissed[7])["state"] == "dismissed"
    created = next(r for r in body if r[2] == "flag.created")
    assert created[1] == "system"
    only = client_for(people["admin"]).get(reverse("moderation:audit-csv") + "?action=flag.claimed")
    rows = list(csv.reader(io.StringIO(b"".join(only.streaming_content).decode())))
    assert [r[2] for r in rows[1:]] == ["flag.claimed"]
    bad = client_for(people["admin"]).get(reverse("moderation:audit-csv") + "?since=yesterday")
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1", "'\uff1d1"),
        ("a reason = fine", "a reason = fine"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(5, "just now"), (600, "10 min"), (3600, "1 h"), (3900, "1 h 5 min"), (90000, "1 d 1 h")],
)
def test_age_label(seconds, label):
    import datetime as dt

    assert age_label(dt.timedelta(seconds=seconds)) == label


def test_operators_do_not_see_the_queue_or_media_of_flags(people, flagged):
    ops = client_for(people["operator"])
    assert ops.get(reverse("moderation:queue")).status_code == 403
    assert ops.get(reverse("moderation:flag-image", args=[the_flag(flagged).pk])).status_code == 404


def test_pages_keep_to_the_content_security_policy(people, flagged):
    confirm(the_flag(flagged), people["moderator"])
    for client, url in (
        (client_for(people["moderator2"]), reverse("moderation:queue")),
        (client_for(people["admin"]), reverse("moderation:audit")),
        (client_for(people["owner"]), reverse("media:detail", args=[flagged.pk])),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert blocked(response.content.decode()) == []
    assert MediaItem.objects.filter(pk=flagged.pk).exists()


# -- the demo's seed ----------------------------------------------------------------------------


def test_the_seed_makes_a_moderator_and_uploads_the_contact_card(
    enqueued, django_capture_on_commit_callbacks, db, monkeypatch
):
    from accounts.roles import MODERATOR, has_role
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    monkeypatch.setenv("GLASSBOX_DEMO_PASSWORD", "seeded-password-9")
    for _ in range(2):  # idempotent
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo", stdout=io.StringIO())
    users = get_user_model().objects
    moderator = users.get(username="moderator")
    assert moderator.check_password("seeded-password-9") and not moderator.is_superuser
    assert has_role(moderator, MODERATOR)
    assert not has_role(users.get(username="demo"), MODERATOR)
    (card,) = MediaItem.objects.filter(owner__username="demo", title="contact card")
    assert card.visibility == "public" and card.mime == "image/png"
    assert (card.width, card.height) == Image.open(card.file).size
    assert enqueued == [(lifecycle.ANALYZE_TASK, card.pk)]  # uploaded once, analysed once


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/moderation/",
        "//evil.example/moderation/",
        "/media/1/",
        "/moderation/audit/",
    ],
)
def test_a_form_goes_back_to_the_queue_only(people, flagged, target):
    flag = the_flag(flagged)
    response = client_for(people["moderator"]).post(
        reverse("moderation:claim", args=[flag.pk]), {"version": flag.version, "next": target}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("moderation:queue") + f"#flag-{flag.pk}"
