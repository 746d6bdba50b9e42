"""Errors outside the views: under /api/ a problem document (JSON), elsewhere Django's HTML.

An unmatched URL under /api/ is a 404 problem, a wrong method a 405 problem, a crash a 500
problem; a page that does not exist keeps the HTML 404.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path
from glassbox_web import urls as project
from glassbox_web.urls import urlpatterns as project_urls
from rest_framework.test import APIClient
from rest_framework.views import APIView

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].endswith(f"/{code}")
    assert body["title"] and body["detail"]
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/v1/no-such-endpoint/", "/api/v1/media/1/nothing/", "/api/v2/", "/api/nothing"]
)
def test_an_unmatched_api_url_is_a_404_problem(url):
    for client in (APIClient(), Client()):
        assert_problem(client.get(url), 404, "not_found")
    assert_problem(APIClient().post(url, {"a": 1}, format="json"), 404, "not_found")


def test_an_unmatched_api_url_is_a_404_problem_for_a_signed_in_user(api):
    assert_problem(api.get("/api/v1/no-such-endpoint/"), 404, "not_found")


@pytest.mark.django_db
def test_an_unmatched_page_keeps_the_html_404(alice_web):
    for client in (Client(), alice_web):
        response = client.get("/no-such-page/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", "/api/v1/search/"),
        ("put", "/api/v1/media/"),
        ("post", "/api/v1/media/statuses/"),
    ],
)
def test_a_wrong_method_on_an_api_endpoint_is_a_405_problem(api, method, url):
    body = assert_problem(getattr(api, method)(url), 405, "method_not_allowed")
    assert method.upper() in body["detail"]


@pytest.mark.django_db
def test_a_wrong_method_on_the_open_health_endpoint_is_a_405_problem():
    assert_problem(APIClient().post("/api/v1/health/"), 405, "method_not_allowed")


class Crashes(APIView):
    def get(self, request):
        raise RuntimeError("boom")


def crashing_page(request):
    raise RuntimeError("boom")


urlpatterns = [
    *project_urls,
    path("api/v1/test-crash/", Crashes.as_view()),
    path("test-crash/", crashing_page),
]
handler400, handler404, handler500 = project.handler400, project.handler404, project.handler500


@pytest.mark.urls(__name__)
def test_a_crash_under_the_api_is_a_500_problem_and_a_page_crash_stays_html(api, alice):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(alice)
    body = assert_problem(client.get("/api/v1/test-crash/"), 500, "server_error")
    assert "boom" not in body["detail"]
    page = Client(raise_request_exception=False)
    page.force_login(alice)
    response = page.get("/test-crash/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def test_the_project_names_its_error_handlers():
    assert project.handler404 == "glassbox_web.problems.not_found"
    assert project.handler400 == "glassbox_web.problems.bad_request"
    assert project.handler500 == "glassbox_web.problems.server_error"
