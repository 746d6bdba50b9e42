"""Search parameters, shared by the search page and the search API: the query text, paging,
sort, "weaker matches" and the filters, each checked with an error naming its field.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils import timezone
from glassbox.clients.milvus.filters import Filters
from glassbox.config import parse_bool
from glassbox.retrieval.scoring import SORTS

MAX_QUERY_CHARS = 500
MAX_LIMIT = 50
DEFAULT_LIMIT = 12
MAX_PAGE = 20
KINDS = ("image", "video")  # filter values; only images are ingested so far
OWNERS = ("any", "mine", "public")
# punctuation, separators, controls and math/currency/modifier symbols; emoji (So) are words
_NOT_WORDS = ("P", "Z", "C", "Sm", "Sc", "Sk")


class SearchQueryError(ValueError):
    """The query cannot be searched; the message names the problem (answered as 400)."""

    status = 400

    def __init__(self, detail: str, field: str = "q") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class SourceNotFound(SearchQueryError):
    """ "Find similar" from an item the user cannot see, or that is not analysed (404)."""

    status = 404


@dataclass(frozen=True)
class SearchFilters:
    """The user's filters, as typed (validated); ``to_index`` turns them into Milvus terms."""

    kind: str | None = None
    owner: str = "any"
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive: the whole day counts
    tag: str | None = None
    flagged: bool | None = None

    @property
    def active(self) -> bool:
        return self != SearchFilters()

    def to_index(self, bank) -> Filters:
        tags: tuple[int, ...] = ()
        if self.tag is not None:
            found = bank.find(self.tag)
            if not found:
                raise SearchQueryError(
                    f"tag {self.tag[:60]!r} is not a concept Glassbox knows; use a tag name"
                    " shown on an item, such as 'dog' or 'vehicle'",
                    field="tag",
                )
            tags = tuple(found)
        return Filters(
            kind=self.kind,
            owner=self.owner,
            created_from=_day_start(self.date_from) if self.date_from else None,
            created_to=_day_start(self.date_to + dt.timedelta(days=1)) if self.date_to else None,
            tags=tags,
            flagged=self.flagged,
        )

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters (for links to other pages of the same search)."""
        params = {
            "kind": self.kind or "",
            "owner": "" if self.owner == "any" else self.owner,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "tag": self.tag or "",
            "flagged": "" if self.flagged is None else ("true" if self.flagged else "false"),
        }
        return {k: v for k, v in params.items() if v}


@dataclass(frozen=True)
class SearchOptions:
    """How to search: the filters, which page of how many results, the order (``SORTS``) and
    whether matches under the cut-off are shown. Page, limit and sort are checked when made."""

    filters: SearchFilters = field(default_factory=SearchFilters)
    page: int = 1
    limit: int = DEFAULT_LIMIT
    sort: str = "relevance"
    weaker: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit", clean_limit(self.limit))
        object.__setattr__(self, "page", clean_page(self.page))
        object.__setattr__(self, "sort", clean_sort(self.sort))


def parse_options(params: Mapping[str, str], *, limit: bool = True) -> SearchOptions:
    """The options of ``engine.search`` and ``engine.similar`` from request parameters, each
    error naming its field. ``limit=False``: the page's fixed page size (``DEFAULT_LIMIT``),
    whatever was sent."""
    return SearchOptions(
        filters=parse_filters(params),
        page=clean_page(params.get("page")),
        limit=clean_limit(params.get("limit")) if limit else DEFAULT_LIMIT,
        sort=clean_sort(params.get("sort")),
        weaker=clean_flag(params.get("weaker"), "weaker"),
    )


def parse_filters(params: Mapping[str, str]) -> SearchFilters:
    """Validate filter parameters; each error names its field (answered as 400)."""

    def text(name: str) -> str | None:
        raw = params.get(name)
        value = " ".join(str(raw).split()) if raw is not None else ""
        return value or None

    kind = text("kind")
    if kind is not None and kind not in KINDS:
        raise SearchQueryError(f"kind must be one of {', '.join(KINDS)}", field="kind")
    owner = text("owner") or "any"
    if owner not in OWNERS:
        raise SearchQueryError(f"owner must be one of {', '.join(OWNERS)}", field="owner")
    date_from, date_to = _date(text("from"), "from"), _date(text("to"), "to")
    # `date_from`: the name the API schema once documented for `from`; still accepted
    former = _date(text("date_from"), "date_from")
    if former is not None:
        if date_from is not None and date_from != former:
            raise SearchQueryError("give from or date_from (its former name), not both", "from")
        date_from = former
    if date_from and date_to and date_from > date_to:
        raise SearchQueryError("from must not be after to", field="from")
    tag = text("tag")
    if tag is not None and len(tag) > 100:
        raise SearchQueryError("tag must be at most 100 characters", field="tag")
    flagged_raw = text("flagged") or ""
    flagged: bool | None = None
    if flagged_raw.lower() not in {"", "any"}:
        try:
            flagged = parse_bool(flagged_raw)
        except ValueError:
            raise SearchQueryError("flagged must be true, false or any", field="flagged") from None
    return SearchFilters(kind, owner, date_from, date_to, tag, flagged)


def clean_query(raw: str | None) -> str:
    query = (raw or "").strip()
    if not query:
        raise SearchQueryError("q must not be empty")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchQueryError(f"q must be at most {MAX_QUERY_CHARS} characters, got {len(query)}")
    if all(unicodedata.category(ch).startswith(_NOT_WORDS) for ch in query):
        raise SearchQueryError("q must contain words, not only punctuation")
    return query


def clean_limit(raw: int | str | None) -> int:
    return _bounded(raw, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)


def clean_page(raw: int | str | None) -> int:
    return _bounded(raw, "page", 1, 1, MAX_PAGE)


def clean_sort(raw: str | None) -> str:
    sort = (raw or "relevance").strip().lower()
    if sort not in SORTS:
        raise SearchQueryError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    return sort


def clean_flag(raw: str | bool | None, name: str) -> bool:
    """A true/false parameter (``glassbox.config.parse_bool``'s words); absent or empty is
    false."""
    if isinstance(raw, bool):
        return raw
    value = (raw or "").strip()
    if not value:
        return False
    try:
        return parse_bool(value)
    except ValueError:
        raise SearchQueryError(f"{name} must be true or false", field=name) from None


def _bounded(raw, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise SearchQueryError(f"{name} must be an integer", field=name) from exc
    if not low <= value <= high:
        raise SearchQueryError(f"{name} must be between {low} and {high}", field=name)
    return value


def _date(raw: str | None, name: str) -> dt.date | None:
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise SearchQueryError(
            f"{name} must be a date as YYYY-MM-DD, got {raw[:40]!r}", field=name
        ) from exc


def _day_start(day: dt.date) -> int:
    """Unix seconds of the day's start in the server's time zone."""
    start = dt.datetime.combine(day, dt.time.min)
    return int(timezone.make_aware(start).timestamp())
