"""The admin: a policy is edited there, validated as the policy file is and audited; flags
and audit rows are read-only."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from moderation import active
from moderation.models import AuditEvent, PolicyRecord

from .test_moderation_support import with_role


@pytest.fixture
def admin_web(make_user):
    client = Client()
    client.force_login(with_role(make_user, "boss", "admin"))
    return client


def change_url(record: PolicyRecord) -> str:
    return f"/admin/moderation/policyrecord/{record.pk}/change/"


def test_an_admin_edits_a_policy_and_the_change_is_audited(admin_web):
    active.sync_from_file()
    record = PolicyRecord.objects.get(slug="personal-data")
    data = {**record.data, "flag_at": 0.6}
    response = admin_web.post(
        change_url(record), {"enabled": "on", "data": json.dumps(data)}, follow=False
    )
    assert response.status_code == 302, response.content[:2000]
    record.refresh_from_db()
    assert record.data["flag_at"] == 0.6
    event = AuditEvent.objects.get(action="policy.changed")
    assert event.actor_name == "boss" and event.after["data"]["flag_at"] == 0.6
    assert event.reason == "edited in the admin"


def test_an_invalid_policy_is_refused_in_the_admin_with_the_field_named(admin_web):
    active.sync_from_file()
    record = PolicyRecord.objects.get(slug="personal-data")
    data = {**record.data, "signals": [{"kind": "smell", "labels": ["x"]}]}
    response = admin_web.post(change_url(record), {"enabled": "on", "data": json.dumps(data)})
    assert response.status_code == 200  # the form again, with the error
    assert "kind &#x27;smell&#x27; is unknown" in response.content.decode()
    record.refresh_from_db()
    assert record.data["signals"][0]["kind"] == "text"
    assert not AuditEvent.objects.filter(action="policy.changed").exists()


def test_audit_rows_and_flags_are_read_only_in_the_admin(admin_web):
    active.sync_from_file()
    event = AuditEvent.objects.first()
    page = admin_web.get(f"/admin/moderation/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_web.post(f"/admin/moderation/auditevent/{event.pk}/delete/").status_code == 403
    assert admin_web.get("/admin/moderation/auditevent/add/").status_code == 403
    assert admin_web.get("/admin/moderation/flag/add/").status_code == 403
    record = PolicyRecord.objects.first()
    assert admin_web.post(f"/admin/moderation/policyrecord/{record.pk}/delete/").status_code == 403
