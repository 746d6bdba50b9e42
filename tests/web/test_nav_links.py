"""The page header links each role's pages to the users who hold the role, and only to them:
the review queue for moderators, the audit trail for admins, operations for operators."""

from __future__ import annotations

import pytest
from accounts.roles import MODERATOR, OPERATOR
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

LINKS = {
    "nav-moderation": "moderation:queue",
    "nav-audit": "moderation:audit",
    "nav-ops": "ops:dashboard",
}


def header_links(user) -> set[str]:
    client = Client()
    client.force_login(user)
    html = client.get(reverse("media:library")).content.decode()
    found = set()
    for testid, name in LINKS.items():
        if f'data-testid="{testid}"' in html:
            assert f'href="{reverse(name)}"' in html
            found.add(testid)
    return found


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("member", set()),
        (MODERATOR, {"nav-moderation"}),
        (OPERATOR, {"nav-ops"}),
        ("admin", {"nav-moderation", "nav-audit", "nav-ops"}),
    ],
)
def test_each_role_sees_the_links_to_its_pages(django_user_model, role, expected):
    if role == "admin":
        user = django_user_model.objects.create_superuser("root", password="root-password-1")
    else:
        user = django_user_model.objects.create_user(f"u-{role}", password="user-password-1")
        if role != "member":
            user.groups.add(Group.objects.get(name=role))
    assert header_links(user) == expected
    client = Client()
    client.force_login(user)
    for testid, name in LINKS.items():  # the links lead to pages the user may open
        if testid in expected:
            assert client.get(reverse(name)).status_code == 200, name
