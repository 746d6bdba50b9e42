"""Pages and permission-checked file views. Every lookup goes through ``visible_to``."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from glassbox.media.imaging import InvalidMedia
from moderation import actions as moderation_actions
from moderation import active as moderation_active
from moderation import states as moderation_states
from moderation import visibility

from . import heatmaps, video_presenters
from .actions import commands
from .forms import UploadForm, VisibilityForm
from .models import MediaItem
from .presenters import caption_view, evidence_view, flag_view, tag_overlays

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
    is_owner = item.owner_id == request.user.pk
    state = visibility.state_for(item)
    standing = [f for f in state.flags if f.state not in moderation_states.CLEARED]
    return render(
        request,
        "media/detail.html",
        {
            "item": item,
            "overlays": tag_overlays(item.tags.all()),
            "caption": caption_view(item.caption, item.caption_phrases),
            "evidence": evidence_view(item),
            "video": video_presenters.video_view(item, standing) if item.is_video else None,
            "is_owner": is_owner,
            "visibility_form": VisibilityForm(initial={"visibility": item.visibility}),
            "moderation": _moderation_banner(request, item, state, is_owner),
        },
    )


def _moderation_banner(request: HttpRequest, item: MediaItem, state, is_owner: bool) -> dict | None:
    """Why the item is under review, hidden, removed or restricted, each flag with its rule
    and evidence, and the appeal form: for its owner (and moderators); None for anyone else
    or when no flag concerns it."""
    if not state.flags or not (is_owner or moderation_actions.is_moderator(request.user)):
        return None
    policies = {p.slug: p for p in moderation_active.policies_active()}
    if state.removed:
        tone, heading = "removed", "Removed by moderation"
        summary = "A moderator confirmed that this item breaks a policy whose action is to "
        summary += "remove it: nobody but its owner can see it, and it is out of search."
    elif state.restricted:
        tone, heading = "restricted", "Restricted to its owner by moderation"
        summary = "A moderator confirmed that this item breaks a policy whose action is to "
        summary += "restrict it: nobody but its owner can see it, and it is out of search."
    elif state.hidden:
        tone, heading = "hidden", "Hidden until reviewed"
        summary = "An automatic check flagged this item strongly enough to hide it: nobody but "
        summary += "its owner can see it, nor find it in search, until a moderator reviews it."
    elif state.under_review:
        tone, heading = "review", "Under review"
        summary = "An automatic check flagged this item for a moderator to review; others can "
        summary += "still see it meanwhile."
    else:
        tone, heading = "cleared", "Reviewed"
        summary = "A moderator reviewed the flags below; they no longer count against the item."
    appealable = [f for f in state.flags if f.state == moderation_states.CONFIRMED]
    can_appeal = is_owner and any(getattr(f, "appeal", None) is None for f in appealable)
    return {
        "tone": tone,
        "heading": heading,
        "summary": summary,
        "entries": [
            {
                "v": flag_view(f, policies.get(f.policy)),
                "prefix": f"b{f.pk}",
                "status": OWNER_STATES.get(f.state, f.state),
                "decided": f.state in DECIDED,
            }
            for f in state.flags
        ],
        "can_appeal": can_appeal,
        "max_message": moderation_actions.MAX_MESSAGE,
    }


DECIDED = frozenset({"confirmed", "appealed", "upheld", "reinstated"})
OWNER_STATES = {
    "pending": "waiting for review",
    "claimed": "being reviewed",
    "escalated": "waiting for review (escalated)",
    "confirmed": "confirmed by a moderator",
    "appealed": "appealed: waiting for a moderator",
    "upheld": "appeal refused: the confirmation stands",
    "reinstated": "appeal granted: reinstated",
    "dismissed": "dismissed",
}


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
