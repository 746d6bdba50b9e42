"""Media API: list, upload, inspect, change visibility, delete, retry, poll statuses."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from glassbox.config import get_settings
from glassbox.media import imaging
from glassbox_web.problems import Problem, problem_response
from glassbox_web.schema import problems
from moderation import actions as moderation
from moderation.api.serializers import AppealRequestSerializer, AppealSerializer
from moderation.api.views import CONFLICT, conflict_response
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ..actions import commands
from ..models import MediaItem
from .serializers import (
    MediaBriefSerializer,
    MediaDetailSerializer,
    MediaStatusSerializer,
    MediaUpdateSerializer,
    MediaUploadSerializer,
    StatusQuerySerializer,
)

# Multipart framing around the file may add a little; anything beyond is refused unread.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def _content_length(request: Request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class IsOwnerOrReadOnly(permissions.BasePermission):
    refuses_safe_methods = False  # for the schema's 403 (glassbox_web.schema)

    def has_object_permission(self, request: Request, view, obj: MediaItem) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.owner_id == request.user.pk


class MediaViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [permissions.IsAuthenticated, IsOwnerOrReadOnly]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_classes = {
        "list": MediaBriefSerializer,
        "create": MediaUploadSerializer,
        "partial_update": MediaUpdateSerializer,
        "statuses": StatusQuerySerializer,
        "appeal": AppealRequestSerializer,
    }

    def get_queryset(self):
        items = MediaItem.objects.visible_to(self.request.user).select_related("owner")
        if self.action == "retrieve":
            items = items.prefetch_related("tags", "shots")
        return items

    def get_serializer_class(self):
        return self.serializer_classes.get(self.action, MediaDetailSerializer)

    @extend_schema(
        request={"multipart/form-data": MediaUploadSerializer},
        responses={201: MediaDetailSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        cfg = get_settings()
        max_bytes = max(cfg.max_upload_bytes, cfg.max_video_bytes)  # the kind is known later
        body_bytes = _content_length(request)
        if body_bytes > max_bytes + UPLOAD_OVERHEAD_BYTES:  # refused unread, its size named
            raise imaging.too_large(max_bytes, body_bytes)
        upload = self.get_serializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        item = commands.create_media(request.user, data["file"], data["title"], data["visibility"])
        body = MediaDetailSerializer(item, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=MediaUpdateSerializer, responses={200: MediaDetailSerializer})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        item = self.get_object()
        # partial, as PATCH is (and as the schema documents it): no field, no change
        change = self.get_serializer(data=request.data, partial=True)
        change.is_valid(raise_exception=True)
        if "visibility" in change.validated_data:
            commands.set_visibility(item, change.validated_data["visibility"])
        return Response(MediaDetailSerializer(item, context=self.get_serializer_context()).data)

    def perform_destroy(self, instance: MediaItem) -> None:
        commands.delete_media(instance)

    @extend_schema(request=None, responses={202: MediaDetailSerializer, **problems(409)})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        try:
            item = commands.retry_media(self.get_object())
        except commands.ActionNotAllowed as exc:
            raise Problem(409, exc.code, exc.detail) from exc
        body = MediaDetailSerializer(item, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=AppealRequestSerializer,
        responses={201: AppealSerializer, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def appeal(self, request: Request, pk: str | None = None) -> Response:
        """The owner appeals the item's confirmed flags (or the one named), once each, with a
        message; a moderator other than whoever confirmed decides. Someone else's item: 404;
        a second appeal: 409."""
        body = AppealRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            item_id = int(pk or "")
        except ValueError:
            return problem_response(404, "not_found", "No such item of yours.")
        try:
            made = moderation.appeal(
                item_id,
                request.user,
                body.validated_data["message"],
                flag_id=body.validated_data.get("flag"),
            )
        except moderation.NotFound as exc:
            return problem_response(404, "not_found", f"{exc}.")
        except moderation.Conflict as exc:
            return conflict_response(exc)
        except ValueError as exc:
            return problem_response(400, "invalid", str(exc), field="message")
        body = AppealSerializer(made, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ids",
                {"type": "string", "pattern": r"^[0-9]{1,18}(,[0-9]{1,18}){0,199}$"},
                required=True,
                description="comma-separated media ids (at most 200)",
            )
        ],
        responses={200: MediaStatusSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], pagination_class=None)  # one answer, never paged
    def statuses(self, request: Request) -> Response:
        """Current status of the given items (those the caller may see); for live badges."""
        query = StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items = MediaItem.objects.visible_to(request.user).filter(
            pk__in=query.validated_data["ids"]
        )
        return Response(MediaStatusSerializer(items.order_by("pk"), many=True).data)
