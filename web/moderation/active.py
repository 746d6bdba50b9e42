"""The policies in force: the admin-editable copies (``PolicyRecord``) of the policy file's.

The file (``GLASSBOX_MODERATION_POLICIES``, by default the shipped
``glassbox/moderation/policies.toml``) is read and validated when the app loads: a bad file
stops the process with a message naming the file, the policy and the field. A policy of the
file that has no record yet gets one (audited as ``policy.created``); a record is never
overwritten from the file, so an admin's edit stands. :func:`policies_active` is what the
worker passes to ``glassbox.analysis.pipeline.analyze(policies=...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from glassbox.config import get_settings
from glassbox.moderation.policies import Policy, PolicyError, default_policies, policy_from_dict

from . import audit
from .models import PolicyRecord

logger = logging.getLogger(__name__)


def file_policies() -> tuple[Policy, ...]:
    """The policy file's policies (validated, loaded once per process)."""
    return default_policies(get_settings())


def check_policy_file() -> None:
    """Load the policy file now (``apps.ready``): a bad one fails at start-up, named."""
    try:
        file_policies()
    except PolicyError as exc:
        raise ImproperlyConfigured(f"moderation policies: {exc}") from exc


def sync_from_file() -> int:
    """Create the record of every file policy that has none; returns how many were made."""
    have = set(PolicyRecord.objects.values_list("slug", flat=True))
    made = 0
    for policy in file_policies():
        if policy.slug in have:
            continue
        try:
            with transaction.atomic():
                record = PolicyRecord.objects.create(slug=policy.slug, data=policy.as_dict())
                audit.record(
                    "policy.created",
                    policy=policy.slug,
                    after=_snapshot(record),
                    reason="from the policy file",
                )
        except IntegrityError:  # another process made it first
            continue
        made += 1
    return made


def policies_active() -> tuple[Policy, ...]:
    """The enabled policies, as the admin left them (the file's, until edited)."""
    sync_from_file()
    found = []
    for record in PolicyRecord.objects.filter(enabled=True).order_by("slug"):
        try:
            found.append(policy_from_dict(record.data, source="policy record"))
        except PolicyError:
            logger.exception("moderation: policy record %s is invalid and is skipped", record.slug)
    return tuple(found)


def validated(data: Any, slug: str | None = None) -> Policy:
    """``data`` as a policy, validated as the file loader does (with the concept bank when it
    is installed); raises Django's ``ValidationError`` naming the field."""
    if not isinstance(data, Mapping):
        raise ValidationError("a policy is a JSON object (Policy.as_dict())")
    try:
        policy = policy_from_dict(data, _bank(), source="this policy")
    except PolicyError as exc:
        raise ValidationError(str(exc)) from exc
    if slug is not None and policy.slug != slug:
        raise ValidationError(f"the data's slug {policy.slug!r} must be the record's, {slug!r}")
    return policy


def save_record(record: PolicyRecord, actor=None, reason: str = "") -> PolicyRecord:
    """Validate and store an admin's change to a policy, audited in the same transaction."""
    validated(record.data, record.slug)
    with transaction.atomic():
        previous = PolicyRecord.objects.select_for_update().filter(pk=record.pk).first()
        before = _snapshot(previous) if previous is not None else None
        record.save()
        after = _snapshot(record)
        if before != after:
            audit.record(
                "policy.changed" if previous is not None else "policy.created",
                actor=actor,
                policy=record.slug,
                before=before,
                after=after,
                reason=reason,
            )
    return record


def action_of(slug: str, default: str = "restrict") -> str:
    """What confirming a flag of this policy does now: ``remove`` or ``restrict``."""
    data = PolicyRecord.objects.filter(slug=slug).values_list("data", flat=True).first()
    if isinstance(data, Mapping) and data.get("action") in ("remove", "restrict"):
        return str(data["action"])
    for policy in file_policies():
        if policy.slug == slug:
            return policy.action
    return default


def described(slug: str) -> dict[str, str]:
    """A policy's name and description, for people (the slug when it is unknown)."""
    data = PolicyRecord.objects.filter(slug=slug).values_list("data", flat=True).first()
    if not isinstance(data, Mapping):
        data = next((p.as_dict() for p in file_policies() if p.slug == slug), {})
    return {
        "name": str(data.get("name") or slug),
        "description": str(data.get("description") or ""),
    }


def _snapshot(record: PolicyRecord) -> dict[str, Any]:
    return {"data": record.data, "enabled": record.enabled}


def _bank():
    settings = get_settings()
    if not settings.concept_bank_path.is_file():
        return None
    from glassbox_web import runtime

    return runtime.concept_bank()
