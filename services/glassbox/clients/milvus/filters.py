"""What a search may return, as one Milvus boolean expression.

Privacy is enforced by Milvus itself: every search carries the filter
``owner_id == viewer or is_public == true``, so a private vector never leaves the index for
anyone but its owner. Search filters (kind, owner, date, tag, flagged) are added to that
expression: they run inside Milvus, never in Python afterwards. Only numbers and single words
reach the expression, so a filter value cannot change its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """What a search may return, besides the privacy rule. Empty fields do not filter."""

    kind: str | None = None
    owner: str = "any"  # "any", "mine" or "public"
    created_from: int | None = None  # unix seconds, inclusive
    created_to: int | None = None  # unix seconds, exclusive
    tags: tuple[int, ...] = ()  # concept ids (leaf or broader); a row needs any one of them
    flagged: bool | None = None

    @property
    def is_empty(self) -> bool:
        return self == Filters()

    def expr(self, viewer_id: int | None) -> str:
        """The Milvus boolean expression: privacy first, then each filter."""
        visible = "is_public == true"
        if viewer_id is not None:
            visible = f"(owner_id == {int(viewer_id)} or is_public == true)"
        parts = [visible]
        if self.owner == "mine":
            parts = [f"owner_id == {int(viewer_id) if viewer_id is not None else -1}"]
        elif self.owner == "public":
            parts = ["is_public == true"]
        elif self.owner != "any":
            raise ValueError(f"owner must be any, mine or public, got {self.owner!r}")
        if self.kind is not None:
            if not self.kind.isalnum():
                raise ValueError(f"kind must be a word, got {self.kind!r}")
            parts.append(f'kind == "{self.kind}"')
        if self.created_from is not None:
            parts.append(f"created >= {int(self.created_from)}")
        if self.created_to is not None:
            parts.append(f"created < {int(self.created_to)}")
        if self.tags:
            # any of the ids, as whole words of the row's ``tag_ids`` text
            # (``schema.tag_ids_text``)
            wanted = " or ".join(f'tag_ids like "% {int(t)} %"' for t in dict.fromkeys(self.tags))
            parts.append(f"({wanted})")
        if self.flagged is not None:
            parts.append(f"flagged == {'true' if self.flagged else 'false'}")
        return " and ".join(parts)
