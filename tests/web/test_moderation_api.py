"""The moderation API (web/moderation/api, and the media API's appeal route and moderation
block): an authorisation matrix over every endpoint for anonymous, member, owner, moderator,
operator and admin; the queue's filters; conflicts answered 409 with the flag's state and
version; appeals (a second one 409, someone else's item 404); the evidence images; and the
OpenAPI schema listing every operation."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from moderation import actions
from moderation.models import AuditEvent
from PIL import Image
from rest_framework.test import APIClient

from .test_moderation_support import concept_hit, flagged_item, text_hit, with_role

PROBLEM = "application/problem+json"
ROLES = ("anonymous", "member", "owner", "moderator", "operator", "admin")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Many users per test: a fast hasher (what a password hashes to is not tested here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(alice, make_user):
    """One user per role; ``owner`` is alice, who owns the flagged items."""
    return {
        "anonymous": None,
        "member": make_user("bob"),
        "owner": alice,
        "moderator": with_role(make_user, "mod", "moderator"),
        "operator": with_role(make_user, "ops", "operator"),
        "admin": with_role(make_user, "boss", "admin"),
    }


def client_of(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def world(alice, bank_embeddings, people, make_user):
    """alice's public items: one with a pending personal-data flag, one with a pending
    concept flag (a heat map), and one whose flag a second moderator confirmed."""
    pending = flagged_item(alice, bank_embeddings, [text_hit(0.93)]).flags.get()
    concept = flagged_item(alice, bank_embeddings, [concept_hit(3, 0.7)]).flags.get()
    confirmed = flagged_item(alice, bank_embeddings, [text_hit(0.8)]).flags.get()
    other_mod = with_role(make_user, "mod2", "moderator")
    actions.decide(confirmed.pk, other_mod, 1, "confirm", "a phone number")
    confirmed.refresh_from_db()
    return {"pending": pending, "concept": concept, "confirmed": confirmed}


def flag_url(name: str, flag, *extra) -> str:
    return reverse(f"api:moderation-flag-{name}", args=[flag.pk, *extra])


# (name, method, url(world), body(world), status when allowed, roles allowed)
REVIEWERS = {"moderator", "admin"}
ENDPOINTS = [
    ("queue", "get", lambda w: reverse("api:moderation-flag-list"), None, 200, REVIEWERS),
    ("flag", "get", lambda w: flag_url("detail", w["pending"]), None, 200, REVIEWERS),
    (
        "claim",
        "post",
        lambda w: flag_url("claim", w["pending"]),
        lambda w: {"version": w["pending"].version},
        200,
        REVIEWERS,
    ),
    (
        "release",
        "post",
        lambda w: flag_url("release", w["pending"]),
        lambda w: {"version": w["pending"].version},
        409,  # in, but nobody holds a claim on it
        REVIEWERS,
    ),
    (
        "decide",
        "post",
        lambda w: flag_url("decide", w["pending"]),
        lambda w: {"version": w["pending"].version, "decision": "dismiss", "reason": "no"},
        200,
        REVIEWERS,
    ),
    (
        "escalate",
        "post",
        lambda w: flag_url("escalate", w["pending"]),
        lambda w: {"version": w["pending"].version, "reason": "unsure"},
        200,
        REVIEWERS,
    ),
    (
        "bulk",
        "post",
        lambda w: reverse("api:moderation-flag-bulk"),
        lambda w: {"ids": [w["pending"].pk], "decision": "dismiss"},
        200,
        REVIEWERS,
    ),
    (
        "image",
        "get",
        lambda w: flag_url("image", w["pending"]),
        None,
        200,
        REVIEWERS | {"owner"},
    ),
    (
        "heatmap",
        "get",
        lambda w: flag_url("heatmap", w["concept"], 0),
        None,
        200,
        REVIEWERS | {"owner"},
    ),
    ("policies", "get", lambda w: reverse("api:moderation-policies"), None, 200, REVIEWERS),
    ("audit", "get", lambda w: reverse("api:moderation-audit"), None, 200, {"admin"}),
    (
        "appeal",
        "post",
        lambda w: reverse("api:media-appeal", args=[w["confirmed"].item_id]),
        lambda w: {"message": "it is my shop's number"},
        201,
        {"owner"},
    ),
]
# refused callers: 401 anonymous; 404 where the thing is not theirs to know of (the evidence
# images of someone else's item, an appeal on someone else's item); 403 otherwise
NOT_THEIRS = {"image", "heatmap", "appeal"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "url", "body", "ok", "allowed"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_authorisation_matrix(world, people, role, name, method, url, body, ok, allowed):
    client = client_of(people[role])
    response = getattr(client, method)(url(world), body(world) if body else None, format="json")
    if role in allowed:
        assert response.status_code == ok, response.content
        return
    expected = 401 if role == "anonymous" else (404 if name in NOT_THEIRS else 403)
    assert response.status_code == expected, response.content
    assert response["Content-Type"] == PROBLEM


def test_the_media_moderation_block_is_for_the_owner_only(world, people, bank_embeddings):
    item_id = world["pending"].item_id
    owner = client_of(people["owner"]).get(reverse("api:media-detail", args=[item_id])).json()
    block = owner["moderation"]
    assert block["under_review"] and not (block["hidden"] or block["removed"])
    (flag,) = block["flags"]
    assert flag["rule"].startswith("personal data in read text")
    assert flag["evidence"][0]["text"] == "<b>call</b> 555 0134"  # as read: escaped when shown
    assert flag["evidence"][0]["box"] == [0.1, 0.2, 0.6, 0.3]
    assert flag["state"] == "pending" and flag["can_appeal"] is False
    assert flag["policy_name"] == "personal data in read text" and flag["description"]
    for role in ("member", "moderator", "admin"):
        other = client_of(people[role]).get(reverse("api:media-detail", args=[item_id]))
        assert other.status_code == 200 and "moderation" not in other.json()
    confirmed = client_of(people["owner"]).get(
        reverse("api:media-detail", args=[world["confirmed"].item_id])
    )
    block = confirmed.json()["moderation"]
    assert block["restricted"] and block["flags"][0]["can_appeal"] is True
    assert block["flags"][0]["reason"] == "a phone number"
    # an item never flagged has no block, even for its owner
    plain = flagged_item(people["owner"], bank_embeddings, [])
    body = client_of(people["owner"]).get(reverse("api:media-detail", args=[plain.pk])).json()
    assert "moderation" not in body and body["id"] == plain.pk
    # restricted: nobody else sees it at all
    gone = client_of(people["member"]).get(
        reverse("api:media-detail", args=[world["confirmed"].item_id])
    )
    assert gone.status_code == 404


def test_the_queue_filters_and_orders_and_names_a_bad_parameter(world, people):
    mod = client_of(people["moderator"])
    url = reverse("api:moderation-flag-list")
    body = mod.get(url).json()
    assert [f["id"] for f in body["results"]] == [world["pending"].pk, world["concept"].pk]
    assert body["results"][0]["item"]["owner"] == "alice"
    by_score = mod.get(url, {"order": "score"}).json()["results"]
    assert [f["score"] for f in by_score] == [0.93, 0.7]
    assert [f["id"] for f in mod.get(url, {"policy": "weapons"}).json()["results"]] == [
        world["concept"].pk
    ]
    assert mod.get(url, {"kind": "video"}).json()["count"] == 0
    assert mod.get(url, {"older_than": 3600}).json()["count"] == 0
    for name, value in (("order", "newest"), ("kind", "sound"), ("older_than", "-1")):
        bad = mod.get(url, {name: value})
        assert bad.status_code == 400 and bad.json()["field"] == name


def test_a_flag_with_its_evidence_images(world, people):
    mod = client_of(people["moderator"])
    detail = mod.get(flag_url("detail", world["concept"])).json()
    (evidence,) = detail["evidence"]
    assert evidence["kind"] == "concept" and evidence["concept"] == 3
    heat = mod.get(evidence["heatmap_url"])
    assert heat.status_code == 200 and heat["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(heat.content)).format == "PNG"
    image = mod.get(detail["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)
    assert [f["id"] for f in detail["owner_flags"]] == [world["pending"].pk, world["confirmed"].pk]
    text = mod.get(flag_url("detail", world["pending"])).json()
    assert text["evidence"][0]["heatmap_url"] is None
    assert mod.get(flag_url("heatmap", world["pending"], 0)).status_code == 404
    assert mod.get(flag_url("heatmap", world["concept"], 7)).status_code == 404


def test_a_decision_on_a_decided_flag_answers_409_with_its_state_and_version(world, people):
    mod = client_of(people["moderator"])
    flag = world["pending"]
    done = mod.post(flag_url("decide", flag), {"version": 1, "decision": "confirm"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "confirmed"
    assert done.json()["version"] == 2
    admin = client_of(people["admin"])
    late = admin.post(
        flag_url("decide", flag), {"version": 1, "decision": "dismiss"}, format="json"
    )
    assert late.status_code == 409 and late["Content-Type"] == PROBLEM
    body = late.json()
    assert (body["state"], body["version"], body["flag"], body["status"]) == (
        "confirmed",
        2,
        flag.pk,
        409,
    )
    bad = mod.post(flag_url("decide", world["concept"]), {"version": 1, "decision": "approve"})
    assert bad.status_code == 400 and bad.json()["field"] == "decision"


def test_an_escalated_flag_is_forbidden_to_a_moderator(world, people):
    mod = client_of(people["moderator"])
    flag = world["pending"]
    mod.post(flag_url("escalate", flag), {"version": 1, "reason": "unsure"}, format="json")
    refused = mod.post(flag_url("decide", flag), {"version": 2, "decision": "confirm"})
    assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM
    admin = client_of(people["admin"])
    ok = admin.post(flag_url("decide", flag), {"version": 2, "decision": "confirm"})
    assert ok.status_code == 200 and ok.json()["decided_by"] == "boss"


def test_bulk_reports_each_flag(world, people):
    mod = client_of(people["moderator"])
    ids = [world["pending"].pk, world["confirmed"].pk]
    body = mod.post(
        reverse("api:moderation-flag-bulk"), {"ids": ids, "decision": "dismiss"}, format="json"
    ).json()
    assert [(r["id"], r["ok"], r["state"]) for r in body["results"]] == [
        (world["pending"].pk, True, "dismissed"),
        (world["confirmed"].pk, False, "confirmed"),
    ]
    assert "cannot be given 'dismiss'" in body["results"][1]["detail"]


def test_appeals_through_the_media_api(world, people):
    owner = client_of(people["owner"])
    url = reverse("api:media-appeal", args=[world["confirmed"].item_id])
    made = owner.post(url, {"message": "it is <i>my shop's</i> number"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["message"] == "it is <i>my shop's</i> number"
    assert made.json()["flag"] == world["confirmed"].pk and made.json()["author"] == "alice"
    again = owner.post(url, {"message": "again"}, format="json")
    assert again.status_code == 409 and again.json()["state"] == "appealed"
    member = client_of(people["member"])
    assert member.post(url, {"message": "mine?"}, format="json").status_code == 404
    not_confirmed = reverse("api:media-appeal", args=[world["pending"].item_id])
    assert owner.post(not_confirmed, {"message": "why"}, format="json").status_code == 409
    assert owner.post(url, {"message": ""}, format="json").status_code == 400
    assert (
        owner.post(reverse("api:media-appeal", args=[10**9]), {"message": "x"}).status_code == 404
    )
    # the appeal is in the queue, for a moderator other than the one who confirmed
    queue = client_of(people["moderator"]).get(reverse("api:moderation-flag-list")).json()
    appealed = [f for f in queue["results"] if f["id"] == world["confirmed"].pk]
    assert appealed and appealed[0]["appeal"]["message"] == "it is <i>my shop's</i> number"


def test_policies_carry_their_measured_precision(world, people):
    body = client_of(people["moderator"]).get(reverse("api:moderation-policies")).json()
    by_slug = {p["slug"]: p for p in body}
    assert set(by_slug) == {"explicit-nudity", "personal-data", "suggestive", "weapons"}
    measured = by_slug["personal-data"]["precision"]
    assert (measured["confirmed"], measured["dismissed"], measured["precision"]) == (1, 0, 1.0)
    assert measured["scores"]["open"][9] == 1  # the pending 0.93
    assert by_slug["weapons"]["precision"]["precision"] is None
    assert by_slug["personal-data"]["action"] == "restrict"


def test_the_audit_trail_for_admins_with_filters(world, people):
    admin = client_of(people["admin"])
    body = admin.get(reverse("api:moderation-audit"), {"item": world["confirmed"].item_id}).json()
    assert [e["action"] for e in body["results"]] == [
        "item.visibility",
        "flag.confirmed",
        "flag.created",
    ]
    confirmed = body["results"][1]
    assert confirmed["actor"] == "mod2" and confirmed["reason"] == "a phone number"
    assert confirmed["flag"] == world["confirmed"].pk
    assert body["results"][2]["actor"] is None  # the analysis
    only = admin.get(reverse("api:moderation-audit"), {"action": "flag.confirmed"}).json()
    assert only["count"] == 1
    assert AuditEvent.objects.count() > only["count"]
    assert admin.get(reverse("api:moderation-audit"), {"item": "x"}).status_code == 400


def test_the_schema_documents_every_moderation_operation(api):
    schema = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    wanted = {
        ("/api/v1/moderation/flags/", "get"),
        ("/api/v1/moderation/flags/{id}/", "get"),
        ("/api/v1/moderation/flags/{id}/claim/", "post"),
        ("/api/v1/moderation/flags/{id}/release/", "post"),
        ("/api/v1/moderation/flags/{id}/decide/", "post"),
        ("/api/v1/moderation/flags/{id}/escalate/", "post"),
        ("/api/v1/moderation/flags/{id}/image/", "get"),
        ("/api/v1/moderation/flags/{id}/evidence/{index}/heatmap/", "get"),
        ("/api/v1/moderation/flags/bulk/", "post"),
        ("/api/v1/moderation/policies/", "get"),
        ("/api/v1/moderation/audit/", "get"),
        ("/api/v1/media/{id}/appeal/", "post"),
    }
    listed = {(p, m) for p, ops in paths.items() for m in ops if p in {w[0] for w in wanted}}
    assert wanted <= listed
    for path, method in wanted:
        responses = paths[path][method]["responses"]
        assert {"401", "403"} <= set(responses), (path, responses.keys())
    for path in ("claim", "release", "decide", "escalate"):
        conflict = paths[f"/api/v1/moderation/flags/{{id}}/{path}/"]["post"]["responses"]["409"]
        ref = conflict["content"][PROBLEM]["schema"]["$ref"]
        assert ref.endswith("/Conflict")
    conflict = schema["components"]["schemas"]["Conflict"]["properties"]
    assert {"state", "version"} <= set(conflict)
    appeal = paths["/api/v1/media/{id}/appeal/"]["post"]["responses"]
    assert {"201", "404", "409"} <= set(appeal)
    detail = schema["components"]["schemas"]["MediaDetail"]["properties"]
    assert "moderation" in detail
    queue = {p["name"] for p in paths["/api/v1/moderation/flags/"]["get"]["parameters"]}
    assert {"policy", "kind", "older_than", "order", "page"} <= queue
