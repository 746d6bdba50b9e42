"""Moderation's pages: the review queue (moderators), its forms (claim, release, decide,
escalate, bulk), the flag's evidence files (moderators, and the item's owner), the owner's
appeal, and the audit trail with its CSV export (admins).

Every change goes through ``moderation.actions`` (one transaction each, with its audit
event); nothing here writes a row. A form posts, the page redirects back to the queue (with
its filters, at the next entry) and says what happened; a collision (``actions.Conflict``:
someone else acted first) is a message naming the flag's current state, not an error page.
Untrusted text (rules, read lines, reasons, appeal messages) is escaped by the templates.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import wraps
from urllib.parse import urlsplit, urlunsplit

from accounts.permissions import moderator_required
from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_POST
from glassbox.explain import cam
from media import heatmaps
from media.models import MediaItem
from media.presenters import flag_concept_map, flag_view
from media.views import _file_response

from . import actions, active, precision, states
from .models import AuditEvent, Flag

PAGE_SIZE = 20
AUDIT_PAGE_SIZE = 50
EARLIER_SHOWN = 5

AGES = {
    "": None,
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
AGE_CHOICES = [
    ("", "any age"),
    ("1h", "older than 1 hour"),
    ("1d", "older than 1 day"),
    ("7d", "older than 7 days"),
    ("30d", "older than 30 days"),
]
ORDER_CHOICES = [("oldest", "oldest first"), ("score", "highest score first")]
KIND_CHOICES = [("", "any"), *MediaItem.Kind.choices]

# (decision, button label, key) in the order the buttons show
FIRST_BUTTONS = (
    (states.DISMISS, "Dismiss", "d"),
    (states.CONFIRM, "Confirm", "c"),
    (states.ESCALATE, "Escalate", "e"),
)
APPEAL_BUTTONS = ((states.REINSTATE, "Reinstate", "r"), (states.UPHOLD, "Uphold", "u"))
SHORTCUTS = (
    ("j", "next entry"),
    ("k", "previous entry"),
    ("v", "evidence overlay on/off"),
    ("a", "claim"),
    ("d", "dismiss (false positive)"),
    ("c", "confirm (apply the policy's action)"),
    ("e", "escalate to an admin"),
    ("r", "reinstate (appeal granted)"),
    ("u", "uphold (appeal refused)"),
    ("x", "select for a bulk action"),
    ("Enter", "send the chosen decision (in the reason field)"),
)
BULK_DECISIONS = (
    (states.DISMISS, "dismiss"),
    (states.CONFIRM, "confirm"),
    (states.ESCALATE, "escalate"),
    (states.REINSTATE, "reinstate (appeals)"),
    (states.UPHOLD, "uphold (appeals)"),
)
PAST = {
    states.CLAIM: "claimed",
    states.RELEASE: "released",
    states.CONFIRM: "confirmed",
    states.DISMISS: "dismissed",
    states.ESCALATE: "escalated",
    states.UPHOLD: "upheld",
    states.REINSTATE: "reinstated",
}


def admin_required(view):
    """A page for admins (superusers): login for an anonymous visitor, 403 for anyone else."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_superuser:
            raise PermissionDenied("This page is for admins.")
        return view(request, *args, **kwargs)

    return checked


# -- forms ------------------------------------------------------------------------------------


class QueueFilters(forms.Form):
    policy = forms.CharField(required=False, max_length=64)
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    age = forms.ChoiceField(choices=AGE_CHOICES, required=False)
    order = forms.ChoiceField(choices=ORDER_CHOICES, required=False)

    def __init__(self, data, slugs: list[str]) -> None:
        super().__init__(data)
        self.slugs = slugs

    def clean_policy(self) -> str:
        slug = self.cleaned_data["policy"]
        if slug and slug not in self.slugs:
            raise forms.ValidationError(f"no policy {slug!r}")
        return slug


class ActionForm(forms.Form):
    version = forms.IntegerField(min_value=0)


class DecisionForm(ActionForm):
    decision = forms.ChoiceField(
        choices=[(d, d) for d in (*states.DECISIONS, states.ESCALATE)],
        error_messages={"required": "choose a decision", "invalid_choice": "no such decision"},
    )
    reason = forms.CharField(
        max_length=actions.MAX_REASON,
        error_messages={"required": "a decision needs a reason"},
    )


class BulkForm(forms.Form):
    flag = forms.TypedMultipleChoiceField(coerce=int, choices=())  # choices: set per request
    decision = forms.ChoiceField(choices=BULK_DECISIONS)
    reason = forms.CharField(
        max_length=actions.MAX_REASON, error_messages={"required": "a decision needs a reason"}
    )

    def __init__(self, data) -> None:
        super().__init__(data)
        ids = [v for v in data.getlist("flag") if v.isdigit() and len(v) < 12]
        self.fields["flag"].choices = [(v, v) for v in ids]
        self.fields["flag"].error_messages["required"] = "select at least one flag"


class AppealForm(forms.Form):
    message = forms.CharField(
        max_length=actions.MAX_MESSAGE,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "an appeal needs a message"},
    )


class AuditFilters(forms.Form):
    actor = forms.CharField(required=False, max_length=150, help_text='a username, or "system"')
    action = forms.CharField(required=False, max_length=40)
    policy = forms.CharField(required=False, max_length=64)
    item = forms.IntegerField(required=False, min_value=1)
    flag = forms.IntegerField(required=False, min_value=1)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)

    def filtered(self):
        events = AuditEvent.objects.all()
        data = self.cleaned_data
        if data.get("actor") == "system":
            events = events.filter(actor_id__isnull=True)
        elif data.get("actor"):
            events = events.filter(actor_name=data["actor"])
        for name in ("action", "policy"):
            if data.get(name):
                events = events.filter(**{name: data[name]})
        if data.get("item"):
            events = events.filter(item_id=data["item"])
        if data.get("flag"):
            events = events.filter(flag_id=data["flag"])
        if data.get("since"):
            events = events.filter(at__date__gte=data["since"])
        if data.get("until"):
            events = events.filter(at__date__lte=data["until"])
        return events


# -- the review queue ----------------------------------------------------------------------


@require_GET
@moderator_required
def queue(request: HttpRequest) -> HttpResponse:
    policies = {p.slug: p for p in active.policies_active()}
    slugs = sorted(set(policies) | set(Flag.objects.values_list("policy", flat=True).distinct()))
    form = QueueFilters(request.GET, slugs)
    context = {
        "form": form,
        "policy_options": [
            (slug, f"{policies[slug].name} ({slug})" if slug in policies else slug)
            for slug in slugs
        ],
        "age_choices": AGE_CHOICES,
        "order_choices": ORDER_CHOICES,
        "kind_choices": KIND_CHOICES,
        "shortcuts": SHORTCUTS,
        "bulk_decisions": BULK_DECISIONS,
        "precision": _precision_rows(policies),
        "max_reason": actions.MAX_REASON,
    }
    if not form.is_valid():
        context["errors"] = [f"{k}: {' '.join(v)}" for k, v in form.errors.items()]
        return render(request, "moderation/queue.html", context, status=400)
    data = form.cleaned_data
    flags = actions.queue(
        request.user,
        policy=data["policy"] or None,
        kind=data["kind"] or None,
        older_than=AGES[data["age"] or ""],
        order=data["order"] or "oldest",
    ).select_related("appeal", "appeal__author", "item__profile")
    page = Paginator(flags, PAGE_SIZE).get_page(request.GET.get("page"))
    found = list(page.object_list)
    earlier = _earlier_flags(found)
    visible = set(
        MediaItem.objects.visible_to(request.user)
        .filter(pk__in=[f.item_id for f in found])
        .values_list("pk", flat=True)
    )
    entries = []
    for n, flag in enumerate(found):
        following = found[n + 1] if n + 1 < len(found) else (found[n - 1] if n else None)
        entries.append(
            {
                "v": flag_view(flag, policies.get(flag.policy)),
                "flag": flag,
                "prefix": f"q{flag.pk}",
                "age": age_label(flag.age),
                "can": _can(flag, request.user),
                "earlier": earlier.get(flag.pk, {"shown": [], "counts": [], "total": 0}),
                "item_url": reverse("media:detail", args=[flag.item_id])
                if flag.item_id in visible
                else None,
                "focus": following.pk if following is not None else "",
            }
        )
    params = request.GET.copy()
    params.pop("page", None)
    context |= {
        "page": page,
        "entries": entries,
        "filters_query": params.urlencode(),
        "here": request.get_full_path(),
        "total": page.paginator.count,
    }
    return render(request, "moderation/queue.html", context)


def _precision_rows(policies: dict) -> list[dict]:
    rows = []
    for row in precision.by_policy():
        policy = policies.get(row.get("policy"))
        hist = row.get("scores")
        rows.append(
            {
                **row,
                "name": policy.name if policy is not None else row.get("name") or row["policy"],
                "flag_at": policy.flag_at if policy is not None else None,
                "bars": _bars(hist),
            }
        )
    return rows


SERIES = ("confirmed", "dismissed", "open")


def _bars(hist) -> list[dict]:
    """``precision.by_policy()``'s score histogram (``bins``: the edges; ``confirmed``,
    ``dismissed``, ``open``: counts per bin) as stacked bars: each bin's height against the
    fullest bin, each series' share of it, and a title in words."""
    if not isinstance(hist, dict):
        return []
    edges = hist.get("bins") or []
    try:
        series = {name: [max(0, int(c)) for c in hist.get(name) or []] for name in SERIES}
    except (TypeError, ValueError):
        return []
    n = max((len(v) for v in series.values()), default=0)
    if not n:
        return []
    totals = [
        sum(series[name][i] if i < len(series[name]) else 0 for name in SERIES) for i in range(n)
    ]
    top = max(totals) or 1
    out = []
    for i, total in enumerate(totals):
        counts = {name: series[name][i] if i < len(series[name]) else 0 for name in SERIES}
        span = ""
        if len(edges) == n + 1:
            try:
                span = f"{float(edges[i]):.1f}–{float(edges[i + 1]):.1f}: "
            except (TypeError, ValueError):
                span = ""
        words = ", ".join(f"{counts[name]} {name}" for name in SERIES if counts[name])
        out.append(
            {
                "style": f"height:{100.0 * total / top:.1f}%",
                "title": span + (words or "none"),
                "segments": [
                    {"name": name, "style": f"flex-grow:{counts[name]}"}
                    for name in SERIES
                    if counts[name]
                ],
            }
        )
    return out


def _earlier_flags(found: list[Flag]) -> dict[int, dict]:
    """For each flag, the flags its owner's items had before it (latest first)."""
    owners = {f.item.owner_id for f in found}
    if not owners:
        return {}
    history = defaultdict(list)
    for other in (
        Flag.objects.filter(item__owner_id__in=owners)
        .select_related("item")
        .order_by("-created", "-id")
        .only("id", "policy", "state", "created", "item__id", "item__owner_id", "item__title")
    ):
        history[other.item.owner_id].append(other)
    out = {}
    for f in found:
        before = [o for o in history[f.item.owner_id] if o.pk != f.pk and o.created <= f.created]
        counts = Counter(o.state for o in before)
        out[f.pk] = {
            "shown": before[:EARLIER_SHOWN],
            "counts": sorted(counts.items()),
            "total": len(before),
        }
    return out


def _can(flag: Flag, user) -> dict:
    """What ``user`` can do to ``flag`` from the queue: claim, release, and which decisions
    (the state machine, the claim and the appeal's second-moderator rule)."""
    roles = actions.roles_of(user)

    def allowed(action: str) -> bool:
        try:
            states.transition(flag.state, action, roles)
        except states.Refused:
            return False
        return True

    own_item = flag.item.owner_id == user.pk
    mine = flag.claimed_by_id == user.pk
    held_by_other = flag.claimed_by_id is not None and not mine and not _stale(flag)
    confirmed_it = flag.state == states.APPEALED and flag.decided_by_id == user.pk
    buttons = APPEAL_BUTTONS if flag.state == states.APPEALED else FIRST_BUTTONS
    decisions = []
    if mine and not own_item and not confirmed_it:
        decisions = [
            {"value": d, "label": label, "key": key} for d, label, key in buttons if allowed(d)
        ]
    return {
        "own_item": own_item,
        "mine": mine,
        "held_by_other": held_by_other,
        "confirmed_it": confirmed_it,
        "claim": not own_item and not mine and not held_by_other and allowed(states.CLAIM),
        "release": mine and allowed(states.RELEASE),
        "decisions": decisions,
        "admin_only": flag.state == states.ESCALATED and states.ADMIN not in roles,
    }


def _stale(flag: Flag) -> bool:
    if flag.claimed_at is None:
        return True
    return timezone.now() - flag.claimed_at >= actions.claim_stale_after()


def age_label(age: dt.timedelta | None) -> str:
    """ "just now", "12 min", "3 h 5 min", "2 d 4 h"."""
    if age is None:
        return ""
    seconds = max(0, int(age.total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 1:
        return "just now"
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        rest = minutes - hours * 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours - days * 24
    return f"{days} d {rest} h" if rest else f"{days} d"


# -- the queue's forms ----------------------------------------------------------------------


def _back(request: HttpRequest, focus: str | int | None = None):
    """Back to the queue page the form was on (its filters and page), at entry ``focus``."""
    target = request.POST.get("next") or ""
    queue_url = reverse("moderation:queue")
    parts = urlsplit(target)
    if not (
        url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        and not parts.scheme
        and not parts.netloc
        and parts.path == queue_url
    ):
        target = queue_url
    else:
        target = urlunsplit(("", "", parts.path, parts.query, ""))
    if focus:
        target += f"#flag-{int(focus)}"
    return redirect(target)


def _focus(request: HttpRequest) -> str | None:
    value = request.POST.get("focus") or ""
    return value if value.isdigit() and len(value) < 12 else None


def conflict_message(exc: actions.Conflict, seen: int | None = None) -> str:
    """ "Flag 12 (personal-data) was not changed: bob is reviewing this flag. It is now
    claimed by bob, version 3 (you saw version 2)." """
    current = exc.flag
    if not current.pk or not current.state:
        return f"Flag {current.pk} was not changed: {exc.detail}."
    now = [f"It is now {current.state}"]
    if current.claimed_by_id:
        now.append(f"claimed by {current.claimed_by.get_username()}")
    if current.decided_by_id and not current.is_open:
        now.append(f"decided by {current.decided_by.get_username()}")
    now.append(f"version {current.version}")
    text = f"Flag {current.pk} ({current.policy}) was not changed: {exc.detail}. "
    text += ", ".join(now)
    if seen is not None and seen != current.version:
        text += f" (you saw version {seen})"
    return text + "."


def _act(request: HttpRequest, pk: int, do, past: str, focus=None) -> HttpResponse:
    form = ActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The form was out of date: reload the queue and try again.")
        return _back(request, pk)
    seen = form.cleaned_data["version"]
    try:
        flag = do(pk, request.user, seen)
    except actions.Conflict as exc:
        messages.warning(request, conflict_message(exc, seen))
        return _back(request, pk)
    except actions.NotFound as exc:
        raise Http404(str(exc)) from exc
    except actions.Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, f"Flag {flag.pk} ({flag.policy}) {past}.")
    return _back(request, focus or pk)


@require_POST
@moderator_required
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, actions.claim, "claimed: it is yours to decide")


@require_POST
@moderator_required
def release(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, actions.release, "released back to the queue")


@require_POST
@moderator_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """A decision with its reason: dismiss, confirm or escalate; uphold or reinstate on an
    appeal."""
    form = DecisionForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Flag {pk} was not changed: {field}: {' '.join(errors)}.")
        return _back(request, pk)
    data = form.cleaned_data
    decision, seen = data["decision"], data["version"]
    try:
        if decision == states.ESCALATE:
            flag = actions.escalate(pk, request.user, seen, data["reason"])
        else:
            flag = actions.decide(pk, request.user, seen, decision, data["reason"])
    except actions.Conflict as exc:
        messages.warning(request, conflict_message(exc, seen))
        return _back(request, pk)
    except actions.NotFound as exc:
        raise Http404(str(exc)) from exc
    except actions.Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, f"Flag {flag.pk} ({flag.policy}) {PAST[decision]}.")
    return _back(request, _focus(request))


@require_POST
@moderator_required
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Nothing was changed: {field}: {' '.join(errors)}.")
        return _back(request)
    data = form.cleaned_data
    try:
        results = actions.bulk(data["flag"], request.user, data["decision"], data["reason"])
    except actions.Forbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValueError as exc:
        messages.error(request, f"Nothing was changed: {exc}.")
        return _back(request)
    done = [r for r in results if isinstance(r, Flag)]
    refused = [r for r in results if isinstance(r, actions.Conflict)]
    if done:
        ids = ", ".join(str(f.pk) for f in done)
        noun = "flag" if len(done) == 1 else "flags"
        messages.success(request, f"{len(done)} {noun} {PAST[data['decision']]}: {ids}.")
    for exc in refused:
        messages.warning(request, conflict_message(exc))
    return _back(request)


# -- the evidence's files (moderators, and the item's owner) ----------------------------------


def _flag_for(request: HttpRequest, pk: int) -> Flag:
    """A flag whose evidence ``request.user`` may see: any, for a moderator; one of their own
    items' flags that its owner may see (not dismissed), for an owner. 404 otherwise (an
    operator, another member)."""
    flag = get_object_or_404(Flag.objects.select_related("item", "keyframe"), pk=pk)
    if actions.is_moderator(request.user):
        return flag
    if flag.item.owner_id == request.user.pk and flag.state != states.DISMISSED:
        return flag
    raise Http404("No such flag.")


@require_GET
@cache_control(private=True, max_age=600)
def flag_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The picture the evidence is drawn on: the window's keyframe for a video flag, the
    original for an image, the thumbnail otherwise."""
    flag = _flag_for(request, pk)
    item = flag.item
    if flag.keyframe is not None and flag.keyframe.keyframe:
        return _file_response(flag.keyframe.keyframe, "image/jpeg")
    if not item.is_video and item.file:
        return _file_response(item.file, item.mime)
    return _file_response(item.thumbnail, "image/jpeg")


@require_GET
@cache_control(private=True, max_age=600)
def flag_heatmap(request: HttpRequest, pk: int) -> HttpResponse:
    """The heat map of the flag's concept evidence, a transparent PNG over ``flag_image``."""
    flag = _flag_for(request, pk)
    found = flag_concept_map(flag)
    if found is None:
        raise Http404("This flag has no concept heat map.")
    import numpy as np

    grid = np.asarray(found[1], dtype=np.float32)
    if grid.ndim != 2 or not grid.size:
        raise Http404("The stored map is unusable.")
    png = cam.render_heatmap_png(cam.upsample(grid, heatmaps.overlay_size(flag.item)))
    return HttpResponse(png, content_type="image/png")


# -- the owner's appeal ------------------------------------------------------------------------


@require_POST
def appeal(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner appeals the item's confirmed flags, once, with a message."""
    item = get_object_or_404(MediaItem.objects.owned_by(request.user), pk=pk)
    form = AppealForm(request.POST)
    back = redirect(reverse("media:detail", args=[item.pk]) + "#moderation")
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"The appeal was not sent: {' '.join(errors)}.")
        return back
    try:
        actions.appeal(item, request.user, form.cleaned_data["message"])
    except actions.NotFound as exc:
        raise Http404(str(exc)) from exc
    except actions.Conflict as exc:
        messages.warning(request, f"The appeal was not sent: {exc.detail}.")
        return back
    messages.success(
        request, "Your appeal was sent. A moderator other than the one who decided will review it."
    )
    return back


# -- the audit trail (admins) --------------------------------------------------------------------

CSV_COLUMNS = ("at", "actor", "action", "flag", "item", "policy", "before", "after", "reason")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting with ``= + - @``, a tab or a
    line break (or their full-width forms) gets a leading apostrophe (OWASP's advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def event_row(event: AuditEvent) -> dict:
    return {
        "event": event,
        "at": event.at.isoformat(timespec="seconds"),
        "actor": event.actor_name
        or ("system" if event.actor_id is None else f"user {event.actor_id}"),
        "before": _json(event.before),
        "after": _json(event.after),
    }


@require_GET
@admin_required
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilters(request.GET)
    context = {
        "form": form,
        "actions": AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct(),
    }
    if not form.is_valid():
        context["errors"] = [f"{k}: {' '.join(v)}" for k, v in form.errors.items()]
        return render(request, "moderation/audit.html", context, status=400)
    page = Paginator(form.filtered(), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context |= {
        "page": page,
        "rows": [event_row(e) for e in page.object_list],
        "filters_query": params.urlencode(),
        "csv_url": reverse("moderation:audit-csv") + (f"?{params.urlencode()}" if params else ""),
    }
    return render(request, "moderation/audit.html", context)


class _Echo:
    """The file ``csv.writer`` writes to: it hands each row back instead."""

    def write(self, value: str) -> str:
        return value


@require_GET
@admin_required
def audit_csv(request: HttpRequest) -> HttpResponse:
    """The audit trail (with the page's filters) as CSV, streamed row by row."""
    form = AuditFilters(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    events = form.filtered().order_by("at", "id")
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for event in events.iterator(chunk_size=500):
            row = event_row(event)
            yield writer.writerow(
                [
                    safe_cell(v)
                    for v in (
                        row["at"],
                        row["actor"],
                        event.action,
                        event.flag_id or "",
                        event.item_id or "",
                        event.policy,
                        row["before"],
                        row["after"],
                        event.reason,
                    )
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="glassbox-audit.csv"'
    return response
