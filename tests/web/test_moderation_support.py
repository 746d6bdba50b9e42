"""Helpers the moderation web tests share (no tests of its own): users with roles, policy
hits, flagged items."""

from __future__ import annotations

import dataclasses

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from media.actions import commands, lifecycle
from media.models import MediaItem

from .conftest import fake_analysis, jpeg


def with_role(make_user, name: str, role: str | None):
    """A user holding ``role`` (``None``: a plain member; ``"admin"``: a superuser)."""
    user = make_user(name)
    if role == "admin":
        user.is_superuser = True
        user.is_staff = True
        user.save()
    elif role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def text_hit(score: float = 0.93, *, hide: bool = False, policy: str = "personal-data") -> dict:
    """A personal-data hit as ``Analysis.flags`` holds it; its read line is markup, on purpose."""
    return {
        "policy": policy,
        "score": score,
        "hide": hide,
        "rule": f"personal data in read text: phone number “555 0134” read at {score:.2f} ≥ 0.50",
        "evidence": [
            {
                "kind": "text",
                "label": "phone",
                "score": score,
                "box": [0.1, 0.2, 0.6, 0.3],
                "concept": None,
                "text": "<b>call</b> 555 0134",
                "match": "555 0134",
            }
        ],
        "counterfactual": {
            "before": score,
            "after": 0.0,
            "masked": 1,
            "text": f"masking this region drops the score from {score:.2f} to 0.00",
        },
    }


def concept_hit(concept: int = 3, score: float = 0.7, *, hide: bool = False) -> dict:
    return {
        "policy": "weapons",
        "score": score,
        "hide": hide,
        "rule": f"weapons: concept <{concept}> {score:.2f} ≥ 0.50",
        "evidence": [
            {
                "kind": "concept",
                "label": f"concept <{concept}>",
                "score": score,
                "box": [0.1, 0.2, 0.6, 0.9],
                "concept": concept,
                "text": None,
                "match": None,
            }
        ],
        "counterfactual": None,
    }


def analysed_with(bank_embeddings, hits: list[dict]):
    return dataclasses.replace(fake_analysis(bank_embeddings), flags=list(hits))


def flagged_item(owner, bank_embeddings, hits, *, visibility="public", capture=None) -> MediaItem:
    """An uploaded item whose analysis raised ``hits``, indexed (status ready)."""
    upload = SimpleUploadedFile("photo.jpg", jpeg(), content_type="image/jpeg")
    item = commands.create_media(owner, upload, "flagged photo", visibility)
    lifecycle.record_analysis(item.pk, analysed_with(bank_embeddings, hits))
    lifecycle.mark_indexed(item.pk)
    item.refresh_from_db()
    return item


def reanalyse(item: MediaItem, bank_embeddings, hits: list[dict]) -> None:
    lifecycle.record_analysis(item.pk, analysed_with(bank_embeddings, hits))
    lifecycle.mark_indexed(item.pk)
