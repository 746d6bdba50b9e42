"""Pages and permission-checked file views. Every lookup goes through ``visible_to``."""

from __future__ import annotations

import math

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from glassbox.imaging import InvalidMedia

from . import actions, heatmaps
from .forms import UploadForm, VisibilityForm
from .models import MediaItem

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
            item = actions.create_media(
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
    tags = list(item.tags.all())
    overlays = [{"tag": tag, "box": _box_style(tag.box)} for tag in tags]
    return render(
        request,
        "media/detail.html",
        {
            "item": item,
            "overlays": overlays,
            "caption": caption_view(item.caption, item.caption_phrases),
            "evidence": evidence_view(item),
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
    actions.set_visibility(item, form.cleaned_data["visibility"])
    messages.success(request, f"The item is now {item.visibility}.")
    return redirect("media:detail", pk=item.pk)


@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    actions.delete_media(_owned(request, pk))
    messages.success(request, "The item was deleted.")
    return redirect("media:library")


@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    item = _owned(request, pk)
    try:
        actions.retry_media(item)
    except actions.ActionNotAllowed as exc:
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


CAPTION_KINDS = ("concept", "text", "count", "position")


def caption_view(text: str, phrases: list[dict] | None) -> dict | None:
    """The caption cut into segments for the template: plain text, or a phrase with its
    region boxes. Built from the stored offsets, so the template escapes every piece and no
    markup ever comes from the data. A phrase with bad offsets, overlapping another, or
    without a usable box is shown as plain text: nothing clickable without evidence."""
    if not text:
        return None
    segments: list[dict] = []
    regions: list[dict] = []
    cursor = 0
    for phrase in phrases or []:
        try:
            start, end, kind = int(phrase["start"]), int(phrase["end"]), str(phrase["kind"])
            boxes = [_box_style(box) for box in phrase.get("boxes") or [] if _is_box(box)]
        except (KeyError, TypeError, ValueError):
            continue
        if not (cursor <= start < end <= len(text)) or kind not in CAPTION_KINDS or not boxes:
            continue
        if start > cursor:
            segments.append({"text": text[cursor:start], "phrase": None})
        index = sum(1 for s in segments if s["phrase"] is not None)
        ids = [f"caption-region-{index}-{k}" for k in range(len(boxes))]
        segments.append(
            {"text": text[start:end], "phrase": index, "kind": kind, "controls": " ".join(ids)}
        )
        regions += [
            {"id": rid, "phrase": index, "kind": kind, "style": style}
            for rid, style in zip(ids, boxes, strict=True)
        ]
        cursor = end
    if cursor < len(text):
        segments.append({"text": text[cursor:], "phrase": None})
    return {"segments": segments, "regions": regions}


def evidence_view(item: MediaItem) -> dict:
    """Read text and sensitive-content detections as lists of (label, score, region), each
    a button that shows its box on the image like a caption phrase (ids ``line-<i>`` and
    ``nsfw-<i>``). Entries without a usable box are listed without a button."""

    def entries(rows, prefix: str, name_field: str) -> list[dict]:
        out = []
        for i, row in enumerate(rows or []):
            box = row.get("box") if isinstance(row, dict) else None
            usable = _is_box(box) if box is not None else False
            out.append(
                {
                    "label": str(row.get(name_field, "")) if isinstance(row, dict) else "",
                    "score": row.get("score") if isinstance(row, dict) else None,
                    "phrase": f"{prefix}-{i}" if usable else None,
                    "style": _box_style(box) if usable else None,
                }
            )
        return out

    return {
        "lines": entries(item.text_lines, "line", "text"),
        "nsfw": entries(item.nsfw, "nsfw", "label"),
    }


def _is_box(box) -> bool:
    """Four finite fractions with ``x0 < x1`` and ``y0 < y1`` (after clamping to [0, 1])."""
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return False
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return False
    return min(x1, 1.0) > max(x0, 0.0) and min(y1, 1.0) > max(y0, 0.0)


def _box_style(box: list[float] | None) -> str | None:
    """CSS for the region outline, from (x0, y0, x1, y1) fractions; numbers only."""
    if not box or len(box) != 4:
        return None
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return (
        f"left:{x0 * 100:.2f}%;top:{y0 * 100:.2f}%;"
        f"width:{max(x1 - x0, 0) * 100:.2f}%;height:{max(y1 - y0, 0) * 100:.2f}%"
    )
