from __future__ import annotations

from drf_spectacular.utils import extend_schema
from glassbox_web.problems import Problem
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import engine
from .serializers import SearchQuerySerializer, SearchResponseSerializer


class SearchView(APIView):
    """Find visible items matching a text query; every result says why it matches."""

    @extend_schema(parameters=[SearchQuerySerializer], responses={200: SearchResponseSerializer})
    def get(self, request: Request) -> Response:
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            query = engine.clean_query(params.validated_data["q"])
            results = engine.search(request.user, query, params.validated_data["limit"])
        except engine.SearchQueryError as exc:
            raise Problem(400, "invalid_query", exc.detail, field=exc.field) from exc
        body = {"query": query, "results": results}
        return Response(SearchResponseSerializer(body, context={"request": request}).data)
