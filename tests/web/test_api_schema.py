"""The OpenAPI schema and the server agree (issue 9): every search parameter the schema
documents is one the server reads, a date filter given as documented filters, the former
``date_from`` name still works, every operation documents the problem answers it can give,
and PATCH is partial as documented. The fuzz test (tests/integration/test_api_fuzz.py)
checks the same against the running app; these run without services (fakes, see conftest)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from media.models import MediaItem

from .conftest import FakeIndex

PROBLEM = "application/problem+json"


@pytest.fixture
def schema(api) -> dict:
    response = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def query_parameters(schema: dict, path: str, method: str = "get") -> dict[str, dict]:
    operation = schema["paths"][path][method]
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def documented_date_filter(schema: dict) -> str:
    """The name the schema gives the "added on or after" filter of text search."""
    (name,) = [
        name
        for name, p in query_parameters(schema, "/api/v1/search/").items()
        if p["schema"].get("format") == "date"
        and not p.get("deprecated")
        and "on or after" in p.get("description", "")
    ]
    return name


# a value the server refuses for each search parameter; the 400 names the parameter
REFUSED = {
    "q": "",
    "limit": "0",
    "page": "0",
    "sort": "sideways",
    "weaker": "maybe",
    "kind": "sound",
    "owner": "everyone",
    "from": "2025-13-01",
    "to": "yesterday",
    "tag": "t" * 101,
    "flagged": "maybe",
    "date_from": "01/02/2025",
    "shot": "-1",  # find similar from a moment of a video
}


@pytest.mark.parametrize("path", ["/api/v1/search/", "/api/v1/search/similar/{id}/"])
def test_every_documented_search_parameter_is_read_by_the_server(
    api, schema, make_item, fake_services, path
):
    item = make_item()
    url = path.replace("{id}", str(item.pk))
    documented = set(query_parameters(schema, path))
    assert documented - REFUSED.keys() == set(), "a new parameter: add a refused value"
    for name in sorted(documented):
        params = {"q": "dog", name: REFUSED[name]}
        response = api.get(url, params)
        assert response.status_code == 400, (name, response.content)
        assert response["Content-Type"] == PROBLEM and response.json()["field"] == name


class DatedIndex(FakeIndex):
    """The fake index, honouring the date terms of the filters as Milvus does."""

    def _dated(self, ids, filters):
        if filters is None:
            return ids
        created = {
            pk: int(when.timestamp())
            for pk, when in MediaItem.objects.filter(pk__in=ids).values_list("pk", "created")
        }
        low = filters.created_from if filters.created_from is not None else float("-inf")
        high = filters.created_to if filters.created_to is not None else float("inf")
        return [pk for pk in ids if pk in created and low <= created[pk] < high]

    def search(self, vector, limit, viewer_id, filters=None, field="semantic", offset=0):
        hits = super().search(vector, limit, viewer_id, filters, field, offset)
        kept = set(self._dated([h.id for h in hits], filters))
        return [h for h in hits if h.id in kept]

    def search_text(self, terms, field, limit, viewer_id, filters=None):
        hits = super().search_text(terms, field, limit, viewer_id, filters)
        kept = set(self._dated([h.id for h in hits], filters))
        return [h for h in hits if h.id in kept]


@pytest.fixture
def dated_items(make_item, fake_services, monkeypatch):
    """An item added 40 days ago and one added today, both found by the index."""
    from glassbox_web import runtime

    old, new = make_item(title="old"), make_item(title="new")
    MediaItem.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=40))
    index = DatedIndex(ids=[old.pk, new.pk])
    monkeypatch.setattr(runtime, "media_index", lambda: index)
    return old, new


def found(api, params: dict) -> set[int]:
    response = api.get(reverse("api:search"), {"q": "dog", "weaker": "true", **params})
    assert response.status_code == 200, response.content
    return {r["item"]["id"] for r in response.json()["results"]}


def test_a_date_filter_given_as_documented_filters(api, schema, dated_items):
    old, new = dated_items
    name = documented_date_filter(schema)
    assert name == "from"
    assert found(api, {}) == {old.pk, new.pk}
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert found(api, {name: since}) == {new.pk}


def test_the_former_name_date_from_still_filters_and_is_marked_deprecated(api, schema, dated_items):
    old, new = dated_items
    assert query_parameters(schema, "/api/v1/search/")["date_from"]["deprecated"] is True
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert found(api, {"date_from": since}) == {new.pk}
    assert found(api, {"date_from": since, "from": since}) == {new.pk}
    response = api.get(
        reverse("api:search"), {"q": "dog", "date_from": since, "from": "2020-01-01"}
    )
    assert response.status_code == 400 and response.json()["field"] == "from"


def test_every_operation_documents_its_problem_answers(schema):
    problems = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            problems[f"{method.upper()} {path}"] = {
                int(code)
                for code, response in operation["responses"].items()
                if PROBLEM in response.get("content", {})
            }
    for name, codes in problems.items():
        if "/health/" not in name and name != "POST /api/v1/auth/token/":
            assert 401 in codes, name  # every other operation needs a token
        if "{id}" in name:
            assert 404 in codes, name
    assert {400, 413, 415} <= problems["POST /api/v1/media/"]
    assert {403, 404, 409} <= problems["POST /api/v1/media/{id}/retry/"]
    assert {400, 503} <= problems["GET /api/v1/search/"]
    assert {413, 415, 503} <= problems["POST /api/v1/search/by-image/"]
    assert {503} <= problems["GET /api/v1/search/similar/{id}/"]
    assert 429 in problems["POST /api/v1/auth/token/"]
    assert 403 not in problems["GET /api/v1/media/{id}/"]  # reading is never refused once seen
    assert 404 in problems["GET /api/v1/media/"]  # a page past the end


def test_the_statuses_poll_is_documented_as_the_plain_list_it_answers(api, schema, make_item):
    item = make_item()
    operation = schema["paths"]["/api/v1/media/statuses/"]["get"]
    assert "page" not in {p["name"] for p in operation["parameters"]}
    body_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body_schema["type"] == "array"
    response = api.get(reverse("api:media-statuses"), {"ids": str(item.pk)})
    assert response.json() == [{"id": item.pk, "status": "ready", "failure_reason": ""}]


def test_uploads_are_documented_as_files(schema):
    upload = schema["components"]["schemas"]["MediaUpload"]["properties"]["file"]
    assert upload == {"type": "string", "format": "binary"}


def test_an_empty_patch_is_partial_as_documented_and_changes_nothing(api, schema, make_item):
    item = make_item(visibility="private")
    ref = schema["paths"]["/api/v1/media/{id}/"]["patch"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    assert "required" not in schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    response = api.patch(reverse("api:media-detail", args=[item.pk]), {}, format="json")
    assert response.status_code == 200 and response.json()["visibility"] == "private"
