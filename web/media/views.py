"""Pages and permission-checked file views. Every lookup goes through ``visible_to``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from glassbox.media.imaging import InvalidMedia

from . import heatmaps, video_presenters
from .actions import commands
from .forms import UploadForm, VisibilityForm
from .models import MediaItem
from .presenters import caption_view, evidence_view, tag_overlays

PAGE_SIZE = 48


def _visible(request: HttpRequest, pk: int) -> MediaItem:
    return get_object_or_404(MediaItem.objects.visible_to(request.user), pk=pk)


def _owned(request: HttpRequest, pk: int) -> MediaItem:
    return get_object_or_404(MediaItem.objects.owned_by(request.user), pk=pk)


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    items = MediaItem.objects.visible_to(request.user).select_related("owner")
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "media/library.html", {"page": page})


def upload(request: HttpRequest) -> HttpResponse:
    """The upload page; the form posts here without JavaScript, to the API with it."""
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            item = commands.create_media(
                request.user,
                form.cleaned_data["file"],
                form.cleaned_data["title"],
                form.cleaned_data["visibility"],
            )
        except InvalidMedia as exc:
            form.add_error("file", exc.detail)
            status = exc.status
        else:
            return redirect("media:detail", pk=item.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "media/upload.html", {"form": form}, status=status)


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible(request, pk)
    return render(
        request,
        "media/detail.html",
        {
            "item": item,
            "overlays": tag_overlays(item.tags.all()),
            "caption": caption_view(item.caption, item.caption_phrases),
            "evidence": evidence_view(item),
            "video": video_presenters.video_view(item) if item.is_video else None,
            "is_owner": item.owner_id == request.user.pk,
            "visibility_form": VisibilityForm(initial={"visibility": item.visibility}),
        },
    )


@require_POST
def change_visibility(request: HttpRequest, pk: int) -> HttpResponse:
    item = _owned(request, pk)
    form = VisibilityForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("visibility must be private or public")
    commands.set_visibility(item, form.cleaned_data["visibility"])
    messages.success(request, f"The item is now {item.visibility}.")
    return redirect("media:detail", pk=item.pk)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    commands.delete_media(_owned(request, pk))
    messages.success(request, "The item was deleted.")
    return redirect("media:library")


@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    item = _owned(request, pk)
    try:
        commands.retry_media(item)
    except commands.ActionNotAllowed as exc:
        messages.error(request, exc.detail)
    return redirect("media:detail", pk=item.pk)


@require_GET
@cache_control(private=True, max_age=3600)
def original(request: HttpRequest, pk: int) -> FileResponse:
    item = _visible(request, pk)
    return _file_response(item.file, item.mime)


@require_GET
@cache_control(private=True, max_age=3600)
def thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    item = _visible(request, pk)
    return _file_response(item.thumbnail, "image/jpeg")


@require_GET
@cache_control(private=True, max_age=3600)
def tag_heatmap(request: HttpRequest, pk: int, tag_id: int) -> HttpResponse:
    item = _visible(request, pk)
    tag = get_object_or_404(item.tags, pk=tag_id)
    return HttpResponse(heatmaps.tag_heatmap(item, tag), content_type="image/png")


@require_GET
@cache_control(private=True, max_age=3600)
def query_heatmap(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible(request, pk)
    try:
        terms = heatmaps.parse_terms(request.GET.get("c"))
    except heatmaps.BadHeatmapParameter as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    profile = getattr(item, "profile", None)
    if profile is None:
        raise Http404("This item has not been analysed yet.")
    return HttpResponse(heatmaps.query_heatmap(item, profile, terms), content_type="image/png")


def _file_response(field, content_type: str) -> FileResponse:
    if not field or not field.name:
        raise Http404("No such file.")
    try:
        handle = field.open("rb")
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    return FileResponse(handle, content_type=content_type)
