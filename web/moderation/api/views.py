"""Moderation API: the review queue and its actions, bulk decisions, the policies with their
measured precision, the audit trail, and a flag's evidence images.

Every change goes through ``moderation.actions``. A conflict (the flag moved on, or cannot take
the action from its state) answers 409 with the flag's current ``state`` and ``version``.
"""

from __future__ import annotations

import datetime as dt

from accounts.permissions import IsModerator
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from glassbox_web.problems import PROBLEM_CONTENT_TYPE, problem_response
from media import heatmaps
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound as NotFoundError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import actions, active, precision
from ..models import AuditEvent, Flag, PolicyRecord
from .permissions import IsAdmin, IsModeratorOrOwner
from .serializers import (
    AuditEventSerializer,
    AuditQuerySerializer,
    BulkResponseSerializer,
    BulkSerializer,
    ConflictSerializer,
    DecideSerializer,
    EscalateSerializer,
    FlagDetailSerializer,
    FlagSerializer,
    PolicySerializer,
    QueueQuerySerializer,
    VersionSerializer,
)

CONFLICT = {(409, PROBLEM_CONTENT_TYPE): ConflictSerializer}


def conflict_response(exc: actions.Conflict) -> Response:
    return problem_response(
        409,
        "conflict",
        exc.detail,
        title="Conflict",
        extra={"state": exc.state, "version": exc.version, "flag": exc.flag.pk},
    )


def refused(exc: Exception) -> Response:
    """The answer to an action's refusal."""
    if isinstance(exc, actions.Conflict):
        return conflict_response(exc)
    if isinstance(exc, actions.Forbidden):
        return problem_response(403, "forbidden", str(exc))
    if isinstance(exc, actions.NotFound):
        return problem_response(404, "not_found", str(exc))
    return problem_response(400, "invalid", str(exc), title="Invalid request")


class ImageRenderer(BaseRenderer):
    """Passes image bytes through (the evidence images); errors stay problem documents."""

    format = "image"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class PngRenderer(ImageRenderer):
    media_type = "image/png"


class JpegRenderer(ImageRenderer):
    media_type = "image/jpeg"


IMAGE_RESPONSES = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="a PNG"),
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="a JPEG"),
}


class FlagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The review queue (open flags) and one flag with its evidence; moderators only."""

    permission_classes = [IsAuthenticated, IsModerator]
    serializer_class = FlagSerializer

    def get_permissions(self):
        if self.action in ("image", "heatmap"):
            return [IsAuthenticated(), IsModeratorOrOwner()]
        return super().get_permissions()

    def get_queryset(self):
        flags = Flag.objects.select_related(
            "item", "item__owner", "claimed_by", "decided_by", "keyframe"
        )
        if self.action in ("image", "heatmap") and not actions.is_moderator(self.request.user):
            return flags.filter(item__owner_id=self.request.user.pk)
        return flags

    def get_serializer_class(self):
        return FlagDetailSerializer if self.action == "retrieve" else FlagSerializer

    @extend_schema(parameters=[QueueQuerySerializer], responses={200: FlagSerializer(many=True)})
    def list(self, request: Request, *args, **kwargs) -> Response:
        """Open flags (pending, claimed, escalated, appealed), oldest first or by score."""
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        older = q.get("older_than")
        flags = actions.queue(
            request.user,
            policy=q.get("policy"),
            kind=q.get("kind"),
            older_than=dt.timedelta(seconds=older) if older is not None else None,
            order=q["order"],
        )
        page = self.paginate_queryset(flags)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _act(self, request: Request, body_class, call) -> Response:
        flag = self.get_object()
        body = body_class(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            done = call(flag.pk, body.validated_data)
        except (actions.Conflict, actions.Forbidden, actions.NotFound, ValueError) as exc:
            return refused(exc)
        return Response(FlagSerializer(done, context=self.get_serializer_context()).data)

    @extend_schema(request=VersionSerializer, responses={200: FlagSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        """Take the flag for review (a claim older than the stale time may be taken over)."""
        return self._act(
            request,
            VersionSerializer,
            lambda fid, d: actions.claim(fid, request.user, d["version"]),
        )

    @extend_schema(request=VersionSerializer, responses={200: FlagSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        """Give the claim back."""
        return self._act(
            request,
            VersionSerializer,
            lambda fid, d: actions.release(fid, request.user, d["version"]),
        )

    @extend_schema(request=DecideSerializer, responses={200: FlagSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        """Confirm (the policy's action applies) or dismiss; uphold or reinstate an appeal."""
        return self._act(
            request,
            DecideSerializer,
            lambda fid, d: actions.decide(
                fid, request.user, d["version"], d["decision"], d["reason"]
            ),
        )

    @extend_schema(request=EscalateSerializer, responses={200: FlagSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str | None = None) -> Response:
        """Hand the flag to an admin."""
        return self._act(
            request,
            EscalateSerializer,
            lambda fid, d: actions.escalate(fid, request.user, d["version"], d["reason"]),
        )

    @extend_schema(request=BulkSerializer, responses={200: BulkResponseSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """One decision on many flags, each at its current version; each result says whether
        it was done, and if not why (the flag's state and version)."""
        body = BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        try:
            done = actions.bulk(d["ids"], request.user, d["decision"], d["reason"])
        except (actions.Forbidden, ValueError) as exc:
            return refused(exc)
        results = [
            {"id": r.pk, "ok": True, "state": r.state, "version": r.version, "detail": ""}
            if isinstance(r, Flag)
            else {
                "id": r.flag.pk,
                "ok": False,
                "state": r.state,
                "version": r.version,
                "detail": r.detail,
            }
            for r in done
        ]
        return Response({"results": results})

    @extend_schema(responses=IMAGE_RESPONSES)
    @action(
        detail=True, methods=["get"], renderer_classes=[JpegRenderer, PngRenderer, JSONRenderer]
    )
    def image(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The evidence image: the image itself, or the video window's keyframe (JPEG)."""
        flag = self.get_object()
        item = flag.item
        field, mime = (item.file, item.mime) if not item.is_video else (None, "image/jpeg")
        if item.is_video:
            shot = flag.keyframe or item.shots.filter(analyzed_at__isnull=False).first()
            field = shot.keyframe if shot is not None else None
        if not field or not field.name:
            raise NotFoundError("This flag has no evidence image.")
        try:
            with field.open("rb") as fh:
                data = fh.read()
        except FileNotFoundError as exc:
            raise NotFoundError("The evidence image is missing.") from exc
        return HttpResponse(data, content_type=mime)

    @extend_schema(responses=IMAGE_RESPONSES)
    @action(
        detail=True,
        methods=["get"],
        url_path=r"evidence/(?P<index>\d{1,4})/heatmap",
        renderer_classes=[PngRenderer, JpegRenderer, JSONRenderer],
    )
    def heatmap(self, request: Request, pk: str | None = None, index: str = "0") -> HttpResponse:
        """A concept evidence's heat map: for an image a PNG overlay (the image's aspect
        ratio), for a video the window's keyframe with the map blended in (JPEG)."""
        flag = self.get_object()
        evidence = flag.evidence or []
        n = int(index)
        entry = evidence[n] if n < len(evidence) and isinstance(evidence[n], dict) else None
        concept = entry.get("concept") if entry else None
        if not isinstance(concept, int):
            raise NotFoundError("This evidence has no heat map.")
        item = flag.item
        if item.is_video:
            shot = flag.keyframe
            data = heatmaps.shot_tag_heatmap(shot, concept) if shot is not None else None
            if data is None:
                raise NotFoundError("This evidence has no heat map.")
            return HttpResponse(data, content_type="image/jpeg")
        profile = getattr(item, "profile", None)
        if profile is None or profile.cam_for(concept) is None:
            raise NotFoundError("This evidence has no heat map.")
        png = heatmaps.query_heatmap(item, profile, [(concept, 1.0)])
        return HttpResponse(png, content_type="image/png")


class PolicyListView(APIView):
    """The policies in force, each with its measured precision (moderators)."""

    permission_classes = [IsAuthenticated, IsModerator]

    @extend_schema(responses={200: PolicySerializer(many=True)})
    def get(self, request: Request) -> Response:
        active.sync_from_file()
        measured = {p["policy"]: p for p in precision.by_policy()}
        out = []
        for record in PolicyRecord.objects.order_by("slug"):
            data = record.data if isinstance(record.data, dict) else {}
            m = measured.get(record.slug) or {}
            out.append(
                {
                    "slug": record.slug,
                    "name": str(data.get("name", record.slug)),
                    "description": str(data.get("description", "")),
                    "enabled": record.enabled,
                    "flag_at": float(data.get("flag_at", 0.0)),
                    "hide_at": float(data.get("hide_at", 0.0)),
                    "action": str(data.get("action", "restrict")),
                    "signals": list(data.get("signals", [])),
                    "precision": {
                        "confirmed": m.get("confirmed", 0),
                        "dismissed": m.get("dismissed", 0),
                        "precision": m.get("precision"),
                        "scores": m.get("scores")
                        or {"bins": [], "confirmed": [], "dismissed": [], "open": []},
                        "suggested_flag_at": m.get("suggested_flag_at"),
                    },
                }
            )
        return Response(PolicySerializer(out, many=True).data)


class AuditListView(generics.ListAPIView):
    """The audit trail, newest first (admins)."""

    permission_classes = [IsAuthenticated, IsAdmin]
    serializer_class = AuditEventSerializer

    def get_queryset(self):
        query = AuditQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        events = AuditEvent.objects.order_by("-at", "-id")
        for name in ("item", "flag"):
            if name in q:
                events = events.filter(**{f"{name}_id": q[name]})
        for name in ("action", "policy"):
            if name in q:
                events = events.filter(**{name: q[name]})
        return events

    @extend_schema(parameters=[AuditQuerySerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


__all__ = ["AuditListView", "FlagViewSet", "PolicyListView", "conflict_response"]
