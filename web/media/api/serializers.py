"""Media API representations. Fields are listed explicitly; the semantic vector never leaves."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import MediaItem, Tag


def _absolute(serializer: serializers.Serializer, path: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class TagSerializer(serializers.ModelSerializer):
    heatmap_url = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = [
            "id",
            "name",
            "path",
            "wnid",
            "concept_id",
            "score",
            "heatmap_url",
            "box",
            "justification",
            "contributing_concepts",
            "faithfulness",
        ]
        read_only_fields = fields

    def get_heatmap_url(self, tag: Tag) -> str:
        return _absolute(self, reverse("media:tag-heatmap", args=[tag.item_id, tag.pk]))


class CaptionPhraseSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text="offset of the phrase's first character")
    end = serializers.IntegerField(help_text="offset just past its last character")
    kind = serializers.ChoiceField(choices=["concept", "text", "count", "position"])
    label = serializers.CharField(help_text="== text[start:end]")
    boxes = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4),
        help_text="its evidence: regions (x0, y0, x1, y1) as fractions of width and height",
    )
    concept_ids = serializers.ListField(child=serializers.IntegerField())
    line = serializers.IntegerField(allow_null=True, help_text="OCR line, for a text phrase")


class CaptionSerializer(serializers.Serializer):
    text = serializers.CharField()
    phrases = CaptionPhraseSerializer(many=True)


def caption_of(item: MediaItem) -> dict | None:
    """The stored caption as ``{text, phrases}``; ``None`` before analysis."""
    if not item.caption:
        return None
    phrases = [
        {
            "start": p["start"],
            "end": p["end"],
            "kind": p["kind"],
            "label": p["label"],
            "boxes": p.get("boxes", []),
            "concept_ids": p.get("concept_ids", []),
            "line": p.get("line"),
        }
        for p in item.caption_phrases or []
    ]
    return {"text": item.caption, "phrases": phrases}


class MediaBriefSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.get_username", read_only=True)
    url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaItem
        fields = [
            "id",
            "url",
            "page_url",
            "title",
            "owner",
            "visibility",
            "kind",
            "status",
            "mime",
            "width",
            "height",
            "thumbnail_url",
            "created",
        ]
        read_only_fields = fields

    def get_url(self, item: MediaItem) -> str:
        return _absolute(self, reverse("api:media-detail", args=[item.pk]))

    def get_page_url(self, item: MediaItem) -> str:
        return _absolute(self, reverse("media:detail", args=[item.pk]))

    def get_thumbnail_url(self, item: MediaItem) -> str:
        return _absolute(self, reverse("media:thumbnail", args=[item.pk]))


class TextLineSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="what OCR read (untrusted text)")
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    score = serializers.FloatField()


class DetectionSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="NudeNet label, e.g. FACE_FEMALE")
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    score = serializers.FloatField()


class MediaDetailSerializer(MediaBriefSerializer):
    original_url = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    caption = serializers.SerializerMethodField()
    text_lines = TextLineSerializer(many=True, read_only=True)
    nsfw = DetectionSerializer(many=True, read_only=True)

    class Meta(MediaBriefSerializer.Meta):
        fields = [
            *MediaBriefSerializer.Meta.fields,
            "original_url",
            "size_bytes",
            "failure_reason",
            "attempts",
            "updated",
            "analyzed_at",
            "timings",
            "tags",
            "caption",
            "text_lines",
            "nsfw",
        ]
        read_only_fields = fields

    def get_original_url(self, item: MediaItem) -> str:
        return _absolute(self, reverse("media:original", args=[item.pk]))

    @extend_schema_field(CaptionSerializer(allow_null=True))
    def get_caption(self, item: MediaItem) -> dict | None:
        return caption_of(item)


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """A file sent in a multipart body: bytes in the schema (a plain FileField reads as a URL,
    its representation in responses, and clients then send it as text, not as a file)."""


class MediaUploadSerializer(serializers.Serializer):
    file = UploadField(allow_empty_file=True, max_length=255)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(
        choices=MediaItem.Visibility.choices, default=MediaItem.Visibility.PRIVATE
    )


class MediaUpdateSerializer(serializers.Serializer):
    visibility = serializers.ChoiceField(choices=MediaItem.Visibility.choices)


class MediaStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = MediaItem
        fields = ["id", "status", "failure_reason"]
        read_only_fields = fields


@extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
class IdListField(serializers.CharField):
    """``"1,2,3"`` -> ``[1, 2, 3]`` (at most 200 ids)."""

    def to_internal_value(self, data: str) -> list[int]:
        raw = super().to_internal_value(data)
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if len(parts) > 200 or not all(p.isdigit() and len(p) < 19 for p in parts):
            raise serializers.ValidationError("ids must be up to 200 comma-separated integers")
        return [int(p) for p in parts]


class StatusQuerySerializer(serializers.Serializer):
    ids = IdListField()
