"""Moderation API representations. Fields are listed explicitly; reasons, appeal messages,
rules and read text are untrusted text (escape them where they are shown)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from glassbox_web.schema import ProblemSerializer
from media.models import MediaItem
from rest_framework import serializers

from .. import active, states
from ..models import Appeal, AuditEvent, Flag


def _absolute(serializer: serializers.Field, path: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def _described(serializer: serializers.Field, slug: str) -> dict[str, str]:
    """A policy's name and description, read once per response."""
    cache = serializer.context.setdefault("_policies", {})
    if slug not in cache:
        cache[slug] = active.described(slug)
    return cache[slug]


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


class EvidenceSerializer(serializers.Serializer):
    """One piece of evidence, as the analysis recorded it (``glassbox.moderation.flags``)."""

    kind = serializers.ChoiceField(choices=["nudity", "concept", "object", "text"])
    label = serializers.CharField(
        help_text="the detector label, concept name, COCO class, or text pattern (phone, ...)"
    )
    score = serializers.FloatField()
    box = serializers.ListField(
        child=serializers.FloatField(),
        min_length=4,
        max_length=4,
        allow_null=True,
        help_text="(x0, y0, x1, y1) as fractions of the evidence image, or null",
    )
    concept = serializers.IntegerField(allow_null=True, help_text="concept id (kind concept)")
    text = serializers.CharField(allow_null=True, help_text="the read line (untrusted text)")
    match = serializers.CharField(
        allow_null=True, required=False, help_text="what matched in the read line"
    )
    heatmap_url = serializers.URLField(
        allow_null=True, help_text="the concept's heat map over the evidence image"
    )


class CounterfactualSerializer(serializers.Serializer):
    before = serializers.FloatField()
    after = serializers.FloatField(allow_null=True, help_text="null: no re-score was possible")
    masked = serializers.IntegerField(help_text="regions masked")
    text = serializers.CharField()


class AppealSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = [
            "id",
            "flag",
            "author",
            "message",
            "created",
            "decided_by",
            "decided_at",
            "reason",
        ]
        read_only_fields = fields

    def get_author(self, appeal: Appeal) -> str:
        return appeal.author.get_username()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_decided_by(self, appeal: Appeal) -> str | None:
        return _username(appeal.decided_by)


class FlaggedItemSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    page_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaItem
        fields = ["id", "title", "kind", "owner", "visibility", "status", "page_url"]
        read_only_fields = fields

    def get_page_url(self, item: MediaItem) -> str:
        return _absolute(self, reverse("media:detail", args=[item.pk]))


def evidence_of(serializer: serializers.Field, flag: Flag) -> list[dict]:
    out = []
    for n, entry in enumerate(flag.evidence or []):
        if not isinstance(entry, dict):
            continue
        concept = entry.get("concept")
        box = entry.get("box")
        out.append(
            {
                "kind": str(entry.get("kind", "")),
                "label": str(entry.get("label", "")),
                "score": float(entry.get("score") or 0.0),
                "box": [float(v) for v in box] if isinstance(box, list) and len(box) == 4 else None,
                "concept": int(concept) if isinstance(concept, int) else None,
                "text": str(entry["text"]) if entry.get("text") is not None else None,
                "match": str(entry["match"]) if entry.get("match") is not None else None,
                "heatmap_url": _absolute(
                    serializer, reverse("api:moderation-flag-heatmap", args=[flag.pk, n])
                )
                if isinstance(concept, int)
                else None,
            }
        )
    return out


class FlagEvidenceMixin(serializers.Serializer):
    policy_name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
    counterfactual = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    keyframe = serializers.SerializerMethodField()

    def get_policy_name(self, flag: Flag) -> str:
        return _described(self, flag.policy)["name"]

    def get_description(self, flag: Flag) -> str:
        return _described(self, flag.policy)["description"]

    @extend_schema_field(EvidenceSerializer(many=True))
    def get_evidence(self, flag: Flag) -> list[dict]:
        return evidence_of(self, flag)

    @extend_schema_field(CounterfactualSerializer(allow_null=True))
    def get_counterfactual(self, flag: Flag) -> dict | None:
        cf = flag.counterfactual
        if not isinstance(cf, dict):
            return None
        after = cf.get("after")
        return {
            "before": float(cf.get("before") or 0.0),
            "after": float(after) if isinstance(after, int | float) else None,
            "masked": int(cf.get("masked") or 0),
            "text": str(cf.get("text") or ""),
        }

    @extend_schema_field(serializers.URLField())
    def get_image_url(self, flag: Flag) -> str:
        """The evidence image: the image itself, or the video window's keyframe."""
        return _absolute(self, reverse("api:moderation-flag-image", args=[flag.pk]))

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_keyframe(self, flag: Flag) -> int | None:
        return flag.keyframe.index if flag.keyframe_id and flag.keyframe else None


class FlagSerializer(FlagEvidenceMixin, serializers.ModelSerializer):
    """A flag as moderators see it."""

    url = serializers.SerializerMethodField()
    item = FlaggedItemSerializer(read_only=True)
    claimed_by = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()
    age_s = serializers.SerializerMethodField()
    is_open = serializers.BooleanField(read_only=True)
    appeal = serializers.SerializerMethodField()

    class Meta:
        model = Flag
        fields = [
            "id",
            "url",
            "item",
            "policy",
            "policy_name",
            "description",
            "score",
            "hide",
            "action",
            "rule",
            "evidence",
            "counterfactual",
            "image_url",
            "start_s",
            "end_s",
            "keyframe",
            "state",
            "version",
            "is_open",
            "claimed_by",
            "claimed_at",
            "decided_by",
            "decided_at",
            "reason",
            "appeal",
            "created",
            "updated",
            "age_s",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "rule": {"help_text": "the rule in words (untrusted text: it quotes read lines)"},
            "reason": {"help_text": "the latest decision's reason (untrusted text)"},
        }

    def get_url(self, flag: Flag) -> str:
        return _absolute(self, reverse("api:moderation-flag-detail", args=[flag.pk]))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_claimed_by(self, flag: Flag) -> str | None:
        return _username(flag.claimed_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_decided_by(self, flag: Flag) -> str | None:
        return _username(flag.decided_by)

    def get_age_s(self, flag: Flag) -> float:
        return round(flag.age.total_seconds(), 1)

    @extend_schema_field(AppealSerializer(allow_null=True))
    def get_appeal(self, flag: Flag) -> dict | None:
        appeal = Appeal.objects.filter(flag=flag).select_related("author", "decided_by").first()
        return AppealSerializer(appeal, context=self.context).data if appeal else None


class OwnerHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = ["id", "item_id", "policy", "state", "score", "created"]
        read_only_fields = fields


class FlagDetailSerializer(FlagSerializer):
    """One flag, with the owner's other flags (earlier first) for context."""

    owner_flags = serializers.SerializerMethodField()

    class Meta(FlagSerializer.Meta):
        fields = [*FlagSerializer.Meta.fields, "owner_flags"]
        read_only_fields = fields

    @extend_schema_field(OwnerHistorySerializer(many=True))
    def get_owner_flags(self, flag: Flag) -> list[dict]:
        others = (
            Flag.objects.filter(item__owner_id=flag.item.owner_id)
            .exclude(pk=flag.pk)
            .order_by("created", "id")[:50]
        )
        return OwnerHistorySerializer(others, many=True).data


class ConflictSerializer(ProblemSerializer):
    """A 409 problem: the flag moved on; its current state and version."""

    state = serializers.ChoiceField(choices=Flag.State.choices, required=False)
    version = serializers.IntegerField(required=False)
    flag = serializers.IntegerField(required=False)


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=0, help_text="the flag's version you saw")


class DecideSerializer(VersionSerializer):
    decision = serializers.ChoiceField(
        choices=list(states.DECISIONS),
        help_text="confirm or dismiss; on an appealed flag uphold or reinstate",
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EscalateSerializer(VersionSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BulkSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=200,
    )
    decision = serializers.ChoiceField(choices=[*states.DECISIONS, states.ESCALATE])
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BulkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    state = serializers.CharField(help_text="the flag's state now (empty: no such flag)")
    version = serializers.IntegerField()
    detail = serializers.CharField(help_text="why it could not be done (empty when ok)")


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class QueueQuerySerializer(serializers.Serializer):
    policy = serializers.SlugField(max_length=64, required=False, help_text="a policy's slug")
    kind = serializers.ChoiceField(choices=list(MediaItem.Kind.values), required=False)
    older_than = serializers.IntegerField(
        min_value=0, max_value=10**9, required=False, help_text="flags at least this old (seconds)"
    )
    order = serializers.ChoiceField(
        choices=["oldest", "score"],
        required=False,
        default="oldest",
        help_text="oldest first, or strongest first",
    )


class HistogramSerializer(serializers.Serializer):
    bins = serializers.ListField(child=serializers.FloatField(), help_text="the bins' edges")
    confirmed = serializers.ListField(child=serializers.IntegerField())
    dismissed = serializers.ListField(child=serializers.IntegerField())
    open = serializers.ListField(child=serializers.IntegerField())


class PrecisionSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField()
    dismissed = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True, help_text="confirmed / decided, or null")
    scores = HistogramSerializer()
    suggested_flag_at = serializers.FloatField(allow_null=True)


class PolicySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    flag_at = serializers.FloatField()
    hide_at = serializers.FloatField()
    action = serializers.ChoiceField(choices=Flag.Action.choices)
    signals = serializers.ListField(child=serializers.JSONField())
    precision = PrecisionSerializer()


class AuditQuerySerializer(serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    flag = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    action = serializers.CharField(max_length=40, required=False)
    policy = serializers.SlugField(max_length=64, required=False)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
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
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="null: the system"))
    def get_actor(self, event: AuditEvent) -> str | None:
        return event.actor_name or None

    def to_representation(self, event: AuditEvent) -> dict:
        out = super().to_representation(event)
        out["flag"], out["item"] = event.flag_id, event.item_id  # ids, even of deleted rows
        return out


class AppealRequestSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=4000, help_text="why the decision is wrong")
    flag = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="one confirmed flag of the item (default: all of them)",
    )


class OwnerFlagSerializer(FlagEvidenceMixin, serializers.ModelSerializer):
    """A flag as the item's owner sees it: why (the rule and evidence), and where it stands."""

    appeal = serializers.SerializerMethodField()
    can_appeal = serializers.SerializerMethodField()

    class Meta:
        model = Flag
        fields = [
            "id",
            "policy",
            "policy_name",
            "description",
            "state",
            "score",
            "action",
            "rule",
            "evidence",
            "counterfactual",
            "image_url",
            "start_s",
            "end_s",
            "keyframe",
            "reason",
            "decided_at",
            "appeal",
            "can_appeal",
        ]
        read_only_fields = fields

    @extend_schema_field(AppealSerializer(allow_null=True))
    def get_appeal(self, flag: Flag) -> dict | None:
        appeal = Appeal.objects.filter(flag=flag).select_related("author", "decided_by").first()
        return AppealSerializer(appeal, context=self.context).data if appeal else None

    def get_can_appeal(self, flag: Flag) -> bool:
        return flag.state == states.CONFIRMED and not Appeal.objects.filter(flag=flag).exists()


class ItemModerationSerializer(serializers.Serializer):
    """What moderation did to an item, for its owner."""

    under_review = serializers.BooleanField(help_text="a flag waits for a moderator")
    hidden = serializers.BooleanField(help_text="you only, until reviewed")
    removed = serializers.BooleanField(help_text="confirmed under a policy that removes")
    restricted = serializers.BooleanField(help_text="confirmed under a policy that restricts")
    flags = OwnerFlagSerializer(many=True)
