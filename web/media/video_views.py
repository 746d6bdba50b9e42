"""A video's permission-checked files: the playable copy (with range requests, so the player
can seek), each window's keyframe and heat maps, and the WebVTT tracks of the player.

Every lookup goes through ``visible_to`` (``views._visible``): another user's private video
is 404, whichever of its files is asked for.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from . import cut_evidence, heatmaps, ranges, video_presenters
from .models import MediaItem, Shot
from .views import _file_response, _visible

VTT = "text/vtt; charset=utf-8"


def _video(request: HttpRequest, pk: int) -> MediaItem:
    item = _visible(request, pk)
    if not item.is_video:
        raise Http404("This item is not a video.")
    return item


def _shot(item: MediaItem, index: int) -> Shot:
    return get_object_or_404(item.shots, index=index)


@require_safe
@cache_control(private=True, max_age=3600)
def proxy(request: HttpRequest, pk: int) -> HttpResponse:
    """The browser-playable copy, or the original when it plays as it is; 404 until the
    analysis has decided which (``video_presenters.playable``)."""
    item = _video(request, pk)
    source = video_presenters.playable(item)
    if source is None:
        raise Http404("The playable copy is not ready yet.")
    field, mime = source
    return ranges.ranged_file_response(request, field, mime)


@require_safe
@cache_control(private=True, max_age=3600)
def keyframe(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    return _file_response(_shot(_video(request, pk), index).keyframe, "image/jpeg")


@require_safe
@cache_control(private=True, max_age=3600)
def shot_tag_heatmap(request: HttpRequest, pk: int, index: int, concept_id: int) -> HttpResponse:
    """The window's keyframe with the heat map of one of its concepts (a JPEG)."""
    shot = _shot(_video(request, pk), index)
    try:
        body = heatmaps.shot_tag_heatmap(shot, concept_id)
    except FileNotFoundError as exc:
        raise Http404("No keyframe.") from exc
    if body is None:
        raise Http404("The window has no map of this concept.")
    return HttpResponse(body, content_type="image/jpeg")


@require_safe
@cache_control(private=True, max_age=3600)
def shot_heatmap(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """A search moment's evidence: the window's keyframe with the query-conditioned heat map,
    ``c=<concept_id>:<weight>,...`` as for an item (``t<i>`` names read text)."""
    item = _video(request, pk)
    try:
        terms = heatmaps.parse_terms(request.GET.get("c"))
    except heatmaps.BadHeatmapParameter as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    shot = _shot(item, index)
    try:
        body = heatmaps.shot_query_heatmap(shot, terms)
    except FileNotFoundError as exc:
        raise Http404("No keyframe.") from exc
    return HttpResponse(body, content_type="image/jpeg")


@require_safe
@cache_control(private=True, max_age=3600)
def cut(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    """The cut that starts window ``index``: the frames it separates over the detector's
    curve (a PNG); 404 when the window does not start with a cut."""
    item = _video(request, pk)
    try:
        body = cut_evidence.cut_evidence_png(item, _shot(item, index))
    except cut_evidence.DECODE_ERRORS as exc:
        raise Http404("The video's frames around this cut cannot be decoded.") from exc
    if body is None:
        raise Http404("This window does not start with a cut.")
    return HttpResponse(body, content_type="image/png")


@require_safe
@cache_control(private=True, no_cache=True)
def chapters_vtt(request: HttpRequest, pk: int) -> HttpResponse:
    """One cue per detected shot, titled by its caption."""
    item = _video(request, pk)
    return HttpResponse(video_presenters.chapters_track(item), content_type=VTT)


@require_safe
@cache_control(private=True, no_cache=True)
def metadata_vtt(request: HttpRequest, pk: int) -> HttpResponse:
    """One cue per time range of each tag, a JSON line each."""
    item = _video(request, pk)
    return HttpResponse(video_presenters.metadata_track(item), content_type=VTT)
