"""Media API representations. Fields are listed explicitly; the semantic vector never leaves."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from moderation import visibility as moderation_visibility
from moderation.api.serializers import ItemModerationSerializer
from rest_framework import serializers
from rest_framework.fields import SkipField

from .. import video_presenters
from ..models import MediaItem, Shot, Tag


def _absolute(serializer: serializers.Field, path: str) -> str:
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


# -- a video's fields: in a video's response, left out of an image's (which stays as it was) --


class VideoOnly:
    """Mixed into a field of a video's item (or of its tags): skipped for an image, so that an
    image's response is unchanged; such fields are optional in the schema (``required=False``)."""

    def get_attribute(self, instance):
        item = instance if isinstance(instance, MediaItem) else instance.item
        if not item.is_video:
            raise SkipField()
        return super().get_attribute(instance)


class VideoFloat(VideoOnly, serializers.FloatField):
    pass


class VideoInteger(VideoOnly, serializers.IntegerField):
    pass


class VideoLink(VideoOnly, serializers.URLField):
    """The absolute URL of one of the video's permission-checked views; with
    ``playable=True``, null until there is something to play."""

    def __init__(self, view_name: str, playable: bool = False, **kwargs) -> None:
        self.view_name, self.playable = view_name, playable
        super().__init__(source="*", required=False, allow_null=playable, **kwargs)

    def to_representation(self, item: MediaItem) -> str | None:
        if self.playable and video_presenters.playable(item) is None:
            return None
        return _absolute(self, reverse(self.view_name, args=[item.pk]))


class ProgressSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="shots, keyframes, summary or proxy")
    done = serializers.IntegerField(help_text="units of the stage done")
    total = serializers.IntegerField(help_text="units of the stage")


class VideoProgress(VideoOnly, ProgressSerializer):
    """``{stage, done, total}`` while the video is analysed; null otherwise."""

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        wanted = ("stage", "done", "total")
        return value if isinstance(value, dict) and all(k in value for k in wanted) else None


class ShotTagSerializer(serializers.Serializer):
    concept_id = serializers.IntegerField()
    name = serializers.CharField()
    score = serializers.FloatField(help_text="the concept's score on the window's keyframe")
    heatmap_url = serializers.URLField(help_text="the keyframe with this concept's heat map")


class ShotSerializer(serializers.ModelSerializer):
    """One analysis window of a video (a detected shot, or a part of a long one)."""

    keyframe_url = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Shot
        fields = [
            "index",
            "shot_number",
            "start_s",
            "end_s",
            "keyframe_s",
            "keyframe_url",
            "cut_probability",
            "caption",
            "tags",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "index": {"help_text": "the window's number, from 0 (its keyframe and heat maps)"},
            "shot_number": {"help_text": "the detected shot it belongs to, from 0"},
            "cut_probability": {
                "help_text": "the shot detector's peak at the cut that starts the shot (on its "
                "first window; null on the others and on the first shot)"
            },
            "caption": {"help_text": "the keyframe's caption (untrusted text)"},
        }

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_keyframe_url(self, shot: Shot) -> str | None:
        if not shot.keyframe:
            return None
        return _absolute(self, reverse("media:keyframe", args=[shot.item_id, shot.index]))

    @extend_schema_field(ShotTagSerializer(many=True))
    def get_tags(self, shot: Shot) -> list[dict]:
        out = []
        for t in shot.tags or []:
            try:
                cid, score = int(t["concept_id"]), float(t["score"])
            except (KeyError, TypeError, ValueError):
                continue
            url = reverse("media:shot-tag-heatmap", args=[shot.item_id, shot.index, cid])
            out.append(
                {
                    "concept_id": cid,
                    "name": str(t.get("name", "")),
                    "score": score,
                    "heatmap_url": _absolute(self, url),
                }
            )
        return out


class VideoShots(VideoOnly, serializers.ListField):
    def get_attribute(self, instance):
        super().get_attribute(instance)  # skipped for an image
        return list(instance.shots.all())


class TagInstanceSerializer(serializers.Serializer):
    start = serializers.FloatField(help_text="seconds")
    end = serializers.FloatField(help_text="seconds")
    confidence = serializers.FloatField()
    shot = serializers.IntegerField(help_text="the window that shows it best (its index)")
    keyframe_s = serializers.FloatField(allow_null=True, help_text="that window's keyframe time")
    keyframe_url = serializers.URLField()
    heatmap_url = serializers.URLField(help_text="that keyframe with the tag's heat map")


class TagInstances(VideoOnly, serializers.ListField):
    """A video's tag: where it is seen, each range with the keyframe that is its evidence."""

    def get_attribute(self, tag: Tag):
        super().get_attribute(tag)  # skipped for an image's tag
        out = []
        for entry in tag.instances or []:
            span = video_presenters.span_of(entry)
            try:
                shot = int(entry["shot"])
                confidence = float(entry.get("confidence", tag.score))
            except (KeyError, TypeError, ValueError):
                continue
            if span is None:
                continue
            keyframe_s = entry.get("keyframe_s")
            out.append(
                {
                    "start": span[0],
                    "end": span[1],
                    "confidence": confidence,
                    "shot": shot,
                    "keyframe_s": keyframe_s if isinstance(keyframe_s, (int, float)) else None,
                    "keyframe_url": _absolute(
                        self, reverse("media:keyframe", args=[tag.item_id, shot])
                    ),
                    "heatmap_url": _absolute(
                        self,
                        reverse("media:shot-tag-heatmap", args=[tag.item_id, shot, tag.concept_id]),
                    ),
                }
            )
        return out


class TagSerializer(serializers.ModelSerializer):
    heatmap_url = serializers.SerializerMethodField()
    instances = TagInstances(
        child=TagInstanceSerializer(),
        required=False,
        help_text="video only: the time ranges where the tag is seen",
    )

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
            "source",
            "detections",
            "instances",
        ]
        read_only_fields = fields

    def get_heatmap_url(self, tag: Tag) -> str:
        return _absolute(self, reverse("media:tag-heatmap", args=[tag.item_id, tag.pk]))


class CaptionPhraseSerializer(serializers.Serializer):
    start = serializers.IntegerField(help_text="offset of the phrase's first character")
    end = serializers.IntegerField(help_text="offset just past its last character")
    kind = serializers.ChoiceField(choices=["concept", "text", "count", "position", "colour"])
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


class TimedSerializer(serializers.Serializer):
    """A video's read line or detection carries the window it was found on."""

    start = serializers.FloatField(required=False, help_text="video only: its window's start (s)")
    end = serializers.FloatField(required=False, help_text="video only: its window's end (s)")
    shot = serializers.IntegerField(required=False, help_text="video only: the window's index")


class TextLineSerializer(TimedSerializer):
    """A line of read text with its box (a video's also with its window's time range)."""

    text = serializers.CharField(help_text="what OCR read (untrusted text)")
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    score = serializers.FloatField()


class DetectionSerializer(TimedSerializer):
    """A sensitive-content detection with its box (a video's also with its window's range)."""

    label = serializers.CharField(help_text="NudeNet label, e.g. FACE_FEMALE")
    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)
    score = serializers.FloatField()


class ColourSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True, help_text="the clear dominant colour, or null")
    share = serializers.FloatField(help_text="its share of the box's pixels")
    swatch = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="its mean sRGB"
    )
    text = serializers.CharField(help_text='"red 62%", or empty')
    tone = serializers.ChoiceField(choices=["colour", "greyscale", "sepia"])


class ObjectSerializer(serializers.Serializer):
    """One class the object detector found, with its boxes, count, position and colour."""

    name = serializers.CharField(help_text="COCO class name: person, bicycle, ...")
    class_id = serializers.IntegerField(help_text="COCO id (90-id numbering)")
    concept_id = serializers.IntegerField(allow_null=True, help_text="its concept in the bank")
    score = serializers.FloatField(help_text="the best box's")
    scores = serializers.ListField(child=serializers.FloatField())
    boxes = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4),
        help_text="best first, (x0, y0, x1, y1) as fractions",
    )
    count = serializers.IntegerField()
    position = serializers.CharField(help_text="left, centre or right (the best box)")
    in_front_of = serializers.ListField(child=serializers.CharField())
    behind = serializers.ListField(child=serializers.CharField())
    crowd = serializers.BooleanField()
    justification = serializers.CharField()
    colour = ColourSerializer(required=False)


class OwnersModeration(ItemModerationSerializer):
    """The item's moderation, for its owner only, and only once it was flagged (other
    callers, and unflagged items, get a response without it)."""

    def get_attribute(self, item: MediaItem):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or user.pk is None or item.owner_id != user.pk:
            raise SkipField()
        if not item.flags.exists():
            raise SkipField()
        return moderation_visibility.state_for(item)


class MediaDetailSerializer(MediaBriefSerializer):
    original_url = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, read_only=True)
    caption = serializers.SerializerMethodField()
    text_lines = TextLineSerializer(many=True, read_only=True)
    nsfw = DetectionSerializer(many=True, read_only=True)
    objects = ObjectSerializer(
        source="detected_objects", many=True, read_only=True, help_text="detected objects"
    )
    # a video's (left out of an image's response)
    duration_s = VideoFloat(required=False, allow_null=True, help_text="video only: seconds")
    fps = VideoFloat(required=False, allow_null=True, help_text="video only: mean frame rate")
    frame_count = VideoInteger(required=False, allow_null=True, help_text="video only")
    proxy_url = VideoLink(
        "media:proxy",
        playable=True,
        help_text="video only: what a browser plays (range requests), the browser-playable "
        "copy or the original when it plays as it is; null until the analysis made it",
    )
    chapters_url = VideoLink(
        "media:chapters", help_text="video only: WebVTT chapters, one cue per detected shot"
    )
    metadata_url = VideoLink(
        "media:metadata", help_text="video only: WebVTT metadata, one JSON cue per tag range"
    )
    progress = VideoProgress(
        required=False, allow_null=True, help_text="video only: the analysis' stage, while it runs"
    )
    shots = VideoShots(
        child=ShotSerializer(),
        required=False,
        help_text="video only: its analysis windows in order, each with its keyframe and tags",
    )
    moderation = OwnersModeration(
        required=False,
        help_text="for its owner, when moderation flagged it: whether it is under review, "
        "hidden, removed or restricted, and why (each flag's rule and evidence); left out "
        "for everyone else, and for an item that was never flagged",
    )

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
            "objects",
            "duration_s",
            "fps",
            "frame_count",
            "proxy_url",
            "chapters_url",
            "metadata_url",
            "progress",
            "shots",
            "moderation",
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
