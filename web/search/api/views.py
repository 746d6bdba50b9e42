"""The search API views: thin wrappers over ``engine``, answering problems for bad queries."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from glassbox.config import get_settings
from glassbox.media import imaging
from glassbox_web.problems import Problem
from glassbox_web.schema import problems
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import engine, records
from ..params import SearchQueryError, parse_options
from .serializers import SearchOptionsSerializer, SearchQuerySerializer, SearchResponseSerializer

# The schema once documented `from` as `date_from`, which the server ignored; it is read now,
# as a deprecated alias (params.parse_filters).
DATE_FROM_ALIAS = OpenApiParameter(
    "date_from",
    OpenApiTypes.DATE,
    deprecated=True,
    description="the former name of `from`, still accepted (400 if both differ)",
)


def _answer(request: Request, run) -> Response:
    try:
        page = run()
    except SearchQueryError as exc:
        code = "not_found" if exc.status == 404 else "invalid_query"
        raise Problem(exc.status, code, exc.detail, field=exc.field) from exc
    return Response(SearchResponseSerializer(page, context={"request": request}).data)


class SearchView(APIView):
    """Find visible items matching a text query; every result says why it matches."""

    @extend_schema(
        parameters=[SearchQuerySerializer, DATE_FROM_ALIAS],
        responses={200: SearchResponseSerializer, **problems(503)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return _answer(
            request, lambda: engine.search(request.user, params.get("q"), parse_options(params))
        )


SHOT_PARAMETER = OpenApiParameter(
    "shot",
    int,
    description="a window of the video (its number in GET /media/{id}/ shots): find what "
    "looks like that moment",
    required=False,
)


def _shot_number(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SearchQueryError("shot must be a shot number (0 or more)", field="shot")
    return value


class SimilarView(APIView):
    """Items that look like item ``pk`` or show the same concepts, explained; with ``shot``,
    like that window of the video ``pk`` (similar shots and images)."""

    @extend_schema(
        parameters=[SearchOptionsSerializer, DATE_FROM_ALIAS, SHOT_PARAMETER],
        responses={200: SearchResponseSerializer, **problems(503)},
    )
    def get(self, request: Request, pk: int) -> Response:
        params = request.query_params

        def run():
            shot = _shot_number(params.get("shot"))
            source = (
                records.source_from_item(request.user, pk)
                if shot is None
                else records.source_from_shot(request.user, pk, shot)
            )
            return engine.similar(request.user, source, parse_options(params))

        return _answer(request, run)


class ByImageView(APIView):
    """Query by image: upload a file (multipart field ``file``); it is checked like an upload
    and analysed, never stored. Filters and paging come as query parameters."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        parameters=[SearchOptionsSerializer, DATE_FROM_ALIAS],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={200: SearchResponseSerializer, **problems(503)},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise Problem(
                400, "invalid", "file is required: the image to search with", field="file"
            )
        data = read_upload(upload)
        params = request.query_params

        def run():
            options = parse_options(params)  # parameters are checked before the image is analysed
            source = records.source_from_upload(data, upload.name or "")
            return engine.similar(request.user, source, options)

        return _answer(request, run)


def read_upload(upload) -> bytes:
    """At most one byte over the limit, refused as for uploads (``imaging.read_upload``: an
    over-size file is named with its real size) without reading all of it."""
    return imaging.read_upload(upload, get_settings(), size=getattr(upload, "size", None))
