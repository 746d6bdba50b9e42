"""Role checks (accounts.permissions): each role against a DRF view and a page, per role.

The API answers an anonymous caller 401 and a signed-in one without the role 403, as problem
documents; a page sends an anonymous visitor to the login page and answers 403 without the
role. The operators' health page is the real page; the rest are tiny views mounted here.
"""

from __future__ import annotations

import pytest
from accounts.permissions import IsModerator, IsOperator, moderator_required
from accounts.roles import MODERATOR, OPERATOR
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import Client
from django.urls import path, reverse
from glassbox_web.urls import urlpatterns as project_urls
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

PROBLEM = "application/problem+json"


class ModeratorOnly(APIView):
    permission_classes = [IsModerator]

    def get(self, request):
        return Response({"ok": True})


class OperatorOnly(APIView):
    permission_classes = [IsOperator]

    def get(self, request):
        return Response({"ok": True})


@moderator_required
def moderation_page(request):
    return HttpResponse("review queue")


urlpatterns = [
    *project_urls,
    path("api/v1/test-moderation/", ModeratorOnly.as_view(), name="test-moderation-api"),
    path("api/v1/test-operations/", OperatorOnly.as_view(), name="test-operations-api"),
    path("test-moderation/", moderation_page, name="test-moderation-page"),
]

ROLES = ("anonymous", "member", MODERATOR, OPERATOR, "superuser")
CASES = [  # (role needed, API url name, page url name)
    (MODERATOR, "test-moderation-api", "test-moderation-page"),
    (OPERATOR, "test-operations-api", "ops:health"),
]


@pytest.fixture(autouse=True)
def quiet_health(monkeypatch):
    from ops import health

    monkeypatch.setattr(health, "run_checks", dict)


def user_with(make_user, role: str):
    if role == "anonymous":
        return None
    user = make_user(f"{role}-user")  # joins the member role
    if role == "superuser":
        user.is_superuser = True
        user.save()
    elif role != "member":
        user.groups.add(Group.objects.get(name=role))
    return user


def allowed(role: str, needed: str) -> bool:
    return role in (needed, "superuser")


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("needed", "api_name", "_page"), CASES)
def test_api_view_allows_only_its_role(make_user, role, needed, api_name, _page):
    client = APIClient()
    user = user_with(make_user, role)
    if user is not None:
        client.force_authenticate(user)
    response = client.get(reverse(api_name))
    if allowed(role, needed):
        assert response.status_code == 200 and response.json() == {"ok": True}
    else:
        assert response.status_code == (401 if user is None else 403)
        assert response["Content-Type"] == PROBLEM
        assert response.json()["status"] == response.status_code


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("needed", "_api", "page_name"), CASES)
def test_page_allows_only_its_role_and_sends_anonymous_visitors_to_login(
    make_user, role, needed, _api, page_name
):
    client = Client()
    user = user_with(make_user, role)
    if user is not None:
        client.force_login(user)
    response = client.get(reverse(page_name))
    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == (200 if allowed(role, needed) else 403)


def test_the_decorator_itself_sends_an_anonymous_request_to_login(rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/test-moderation/?page=2")
    request.user = AnonymousUser()
    response = moderation_page(request)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/test-moderation/%3Fpage%3D2"
