"""The admin: policies are edited here (validated as the policy file is, every change
audited); flags and the audit trail are read-only (flags change through moderation.actions,
and audit rows never change)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin

from . import active
from .models import AuditEvent, Flag, PolicyRecord


class PolicyRecordForm(forms.ModelForm):
    class Meta:
        model = PolicyRecord
        fields = ["slug", "enabled", "data"]
        widgets = {"data": forms.Textarea(attrs={"rows": 24, "cols": 100})}
        help_texts = {
            "data": "The policy as JSON: slug, name, description, signals, flag_at, hide_at, "
            "action. It is checked as the policy file is (unknown signal kinds, labels or "
            "patterns, thresholds out of range are refused)."
        }

    def clean(self):
        cleaned = super().clean()
        data = cleaned.get("data")
        slug = cleaned.get("slug") or self.instance.slug  # read-only once the record exists
        if data is not None and slug:
            try:
                active.validated(data, slug)
            except forms.ValidationError as exc:
                self.add_error("data", exc)
        return cleaned


@admin.register(PolicyRecord)
class PolicyRecordAdmin(admin.ModelAdmin):
    form = PolicyRecordForm
    list_display = ["slug", "name", "enabled", "thresholds", "action", "updated"]
    list_filter = ["enabled"]
    readonly_fields = ["updated"]

    def get_readonly_fields(self, request, obj=None):
        # the slug names the flags already raised: fixed once the record exists
        return ["slug", "updated"] if obj is not None else ["updated"]

    @admin.display(description="name")
    def name(self, record: PolicyRecord) -> str:
        return str((record.data or {}).get("name", ""))

    @admin.display(description="flag at / hide at")
    def thresholds(self, record: PolicyRecord) -> str:
        data = record.data or {}
        return f"{data.get('flag_at')} / {data.get('hide_at')}"

    @admin.display(description="action")
    def action(self, record: PolicyRecord) -> str:
        return str((record.data or {}).get("action", ""))

    def save_model(self, request, obj: PolicyRecord, form, change: bool) -> None:
        active.save_record(obj, actor=request.user, reason="edited in the admin")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # disable a policy instead: its flags and audit rows name it


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "policy", "flag_id", "item_id"]
    list_filter = ["action", "policy"]
    search_fields = ["actor_name", "reason"]
    fields = [
        "at",
        "actor_name",
        "action",
        "flag_id",
        "item_id",
        "policy",
        "shown_before",
        "shown_after",
        "reason",
    ]
    readonly_fields = fields

    @admin.display(description="before")
    def shown_before(self, event: AuditEvent) -> str:
        return json.dumps(event.before, indent=2, ensure_ascii=False)

    @admin.display(description="after")
    def shown_after(self, event: AuditEvent) -> str:
        return json.dumps(event.after, indent=2, ensure_ascii=False)


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ["id", "policy", "item_id", "score", "state", "version", "created"]
    list_filter = ["state", "policy"]
