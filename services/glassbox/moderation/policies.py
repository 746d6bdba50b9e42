"""Moderation policies, declared in one TOML file and validated when they are loaded.

A policy names the signals it reads and two thresholds on its score (the strongest of its
signals): ``flag_at`` puts an item in the review queue, ``hide_at`` also hides it from
everyone but its owner until it is reviewed. ``action`` is what a moderator's confirmation
does: ``remove`` the item, or ``restrict`` it to its owner. The file format, the default
policies and the reasons for their thresholds are in docs/moderation.md.

Validation refuses, with a :class:`PolicyError` naming the file, the policy and the field:
an unknown key, a missing field, an unknown signal kind, an unknown label (nudity detector
labels, COCO class names, and, given the concept bank, concept ids and names), an unknown
pattern name or a regular expression that does not compile, and a threshold out of range.
``policy_from_dict`` (the JSON form the web's admin-editable copy keeps) validates the same
way, so a policy that passes one passes the other.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glassbox import evidence_types
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.moderation import patterns

if TYPE_CHECKING:
    from glassbox.concepts import ConceptBank
    from glassbox.config import Settings

DEFAULT_POLICIES = Path(__file__).resolve().parent / "policies.toml"

KINDS = ("nudity", "concept", "object", "text")
ACTIONS = ("remove", "restrict")
NUDITY_LABELS = frozenset(evidence_types.NUDITY_LABELS)  # as the nsfw_detector answers them
OBJECT_LABELS = frozenset(COCO_LABELS.values())
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_WNID = re.compile(r"n\d{8}")
_POLICY_KEYS = ("slug", "name", "description", "signals", "flag_at", "hide_at", "action")
_SIGNAL_KEYS = ("kind", "labels", "patterns", "words")


class PolicyError(ValueError):
    """A policy file or policy is malformed; the message names the file, policy and field."""


@dataclass(frozen=True)
class Signal:
    """What a policy reads: nudity-detector ``labels``, concept ``labels`` (WordNet ids such
    as ``n04090263`` or names; a broader concept covers every leaf under it), detected
    object ``labels`` (COCO class names), or read ``text`` matching ``patterns`` (``phone``,
    ``email``, ``card`` or ``re:<regex>``) or ``words``."""

    kind: str
    labels: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "text":
            out["patterns"] = list(self.patterns)
            out["words"] = list(self.words)
        else:
            out["labels"] = list(self.labels)
        return out


@dataclass(frozen=True)
class Policy:
    slug: str
    name: str
    description: str  # shown to users: what the policy is for
    signals: tuple[Signal, ...]
    flag_at: float  # review threshold, 0 < flag_at <= 1
    hide_at: float  # hide-until-reviewed threshold, flag_at <= hide_at <= 1
    action: str  # on confirmation: "remove" or "restrict" (to the owner)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``policy_from_dict`` reads it back to an equal policy)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "signals": [s.as_dict() for s in self.signals],
            "flag_at": self.flag_at,
            "hide_at": self.hide_at,
            "action": self.action,
        }

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(s.kind for s in self.signals)


def load_policies(path: Path | str, bank: ConceptBank | None = None) -> tuple[Policy, ...]:
    """The policies of a TOML file (``[[policies]]`` tables, each with ``[[policies.signals]]``),
    validated; with ``bank``, every concept label must name exactly one of its concepts."""
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"{where}: the policy file does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{where}: cannot read the policy file: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - {"policies"})
    if unknown:
        raise PolicyError(f"{where}: unknown top-level key {unknown[0]!r} (only [[policies]])")
    items = raw.get("policies")
    if not isinstance(items, list) or not items:
        raise PolicyError(f"{where}: no [[policies]] table")
    policies = tuple(
        _policy(item, f"{where}: policy {_label(item, k)}", bank) for k, item in enumerate(items)
    )
    _unique(policies, where)
    return policies


def policy_from_dict(
    d: Mapping[str, Any], bank: ConceptBank | None = None, source: str = "policy"
) -> Policy:
    """A policy from its JSON form (``Policy.as_dict``), validated as the file loader does;
    ``source`` begins the error messages (the web names the admin's copy there)."""
    return _policy(d, f"{source} {_label(d, 0)}", bank)


def policies_from_dicts(
    items: Sequence[Mapping[str, Any]], bank: ConceptBank | None = None, source: str = "policies"
) -> tuple[Policy, ...]:
    """Several policies from their JSON forms, validated, slugs unique."""
    policies = tuple(policy_from_dict(d, bank, source) for d in items)
    _unique(policies, source)
    return policies


def default_policies(settings: Settings, bank: ConceptBank | None = None) -> tuple[Policy, ...]:
    """The policies of ``settings.moderation_policies_path`` (``GLASSBOX_MODERATION_POLICIES``;
    the shipped ``policies.toml`` by default), loaded once. The concept labels are checked
    against ``bank``, or else against the concept bank of the settings' model repository
    when it exists (so that start-up fails on a concept the bank lacks)."""
    bank_path = None
    if bank is None and settings.concept_bank_path.is_file():
        bank_path = str(settings.concept_bank_path)
    return _load_cached(str(settings.moderation_policies_path), bank, bank_path)


@lru_cache(maxsize=8)
def _load_cached(path: str, bank: ConceptBank | None, bank_path: str | None) -> tuple[Policy, ...]:
    if bank is None and bank_path is not None:
        from glassbox.concepts import ConceptBank

        bank = ConceptBank.load(bank_path)
    return load_policies(path, bank)


def concept_ids(signal: Signal, bank: ConceptBank) -> tuple[int, ...]:
    """The bank's concepts a concept signal reads, in label order; a label the bank does not
    know reads nothing (``load_policies`` with the bank refuses it)."""
    found = []
    for label in signal.labels:
        ids = _resolve(label, bank)
        if len(ids) == 1:
            found.append(ids[0])
    return tuple(dict.fromkeys(found))


# -- validation --------------------------------------------------------------------------


def _policy(item: Any, where: str, bank: ConceptBank | None) -> Policy:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{where}: a policy must be a table, not {type(item).__name__}")
    _no_unknown_keys(item, _POLICY_KEYS, where)
    slug = _text(item, "slug", where)
    if not _SLUG.fullmatch(slug):
        raise PolicyError(
            f"{where}: slug {slug!r} must be lower-case letters and digits joined by hyphens"
        )
    name = _text(item, "name", where)
    description = _text(item, "description", where)
    flag_at = _number(item, "flag_at", where)
    hide_at = _number(item, "hide_at", where)
    if not 0 < flag_at <= 1:
        raise PolicyError(f"{where}: flag_at {flag_at} is out of range (0 < flag_at <= 1)")
    if not flag_at <= hide_at <= 1:
        raise PolicyError(
            f"{where}: hide_at {hide_at} is out of range (flag_at {flag_at} <= hide_at <= 1)"
        )
    action = _text(item, "action", where)
    if action not in ACTIONS:
        raise PolicyError(f"{where}: action {action!r} is unknown: use {' or '.join(ACTIONS)}")
    signals = item.get("signals")
    if signals is None:
        raise PolicyError(f"{where}: signals: missing (at least one [[policies.signals]])")
    if not isinstance(signals, list) or not signals:
        raise PolicyError(f"{where}: signals: need a list of at least one signal")
    parsed = tuple(_signal(s, f"{where}: signals[{k}]", bank) for k, s in enumerate(signals))
    return Policy(slug, name, description, parsed, flag_at, hide_at, action)


def _signal(item: Any, where: str, bank: ConceptBank | None) -> Signal:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{where}: a signal must be a table, not {type(item).__name__}")
    _no_unknown_keys(item, _SIGNAL_KEYS, where)
    kind = _text(item, "kind", where)
    if kind not in KINDS:
        raise PolicyError(f"{where}: kind {kind!r} is unknown: use one of {', '.join(KINDS)}")
    if kind == "text":
        for key in ("labels",):
            if key in item:
                raise PolicyError(f"{where}: {key}: a text signal has patterns and words")
        patterns_ = _strings(item, "patterns", where, required=False)
        words = _strings(item, "words", where, required=False)
        if not patterns_ and not words:
            raise PolicyError(f"{where}: patterns: a text signal needs patterns or words")
        for k, pattern in enumerate(patterns_):
            try:
                patterns.compile_pattern(pattern)
            except ValueError as exc:
                raise PolicyError(f"{where}: patterns[{k}]: {exc}") from exc
        for k, word in enumerate(words):
            if not word.split():
                raise PolicyError(f"{where}: words[{k}]: an empty word")
        return Signal(kind, patterns=patterns_, words=words)
    for key in ("patterns", "words"):
        if key in item:
            raise PolicyError(f"{where}: {key}: only a text signal has {key}")
    labels = _strings(item, "labels", where, required=True)
    for k, label in enumerate(labels):
        problem = _label_problem(kind, label, bank)
        if problem:
            raise PolicyError(f"{where}: labels[{k}]: {problem}")
    return Signal(kind, labels=labels)


def _label_problem(kind: str, label: str, bank: ConceptBank | None) -> str | None:
    if kind == "nudity" and label not in NUDITY_LABELS:
        return f"unknown nudity-detector label {label!r} (e.g. FEMALE_BREAST_EXPOSED)"
    if kind == "object" and label not in OBJECT_LABELS:
        return f"unknown COCO class {label!r} (e.g. knife, person)"
    if kind == "concept":
        if not label.strip():
            return "an empty concept label"
        if bank is None:
            return None
        ids = _resolve(label, bank)
        if not ids:
            return f"unknown concept {label!r}: no concept of the bank has this id or name"
        if len(ids) > 1:
            choices = ", ".join(f"{bank.wnids[i]} ({bank.names[i]})" for i in ids[:4])
            return f"concept {label!r} is ambiguous: use one of its ids {choices}"
    return None


def _resolve(label: str, bank: ConceptBank) -> list[int]:
    if _WNID.fullmatch(label):
        index = getattr(bank, "_wnid_index", None)
        if index is None:
            index = {w: i for i, w in enumerate(bank.wnids)}
            object.__setattr__(bank, "_wnid_index", index)
        return [index[label]] if label in index else []
    return bank.find(label)


def _no_unknown_keys(item: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(allowed)})")


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    if key not in item:
        raise PolicyError(f"{where}: {key}: missing")
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: {key}: need a non-empty string, got {value!r}")
    return value.strip()


def _number(item: Mapping[str, Any], key: str, where: str) -> float:
    if key not in item:
        raise PolicyError(f"{where}: {key}: missing")
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise PolicyError(f"{where}: {key}: need a number, got {value!r}")
    return float(value)


def _strings(item: Mapping[str, Any], key: str, where: str, required: bool) -> tuple[str, ...]:
    if key not in item:
        if required:
            raise PolicyError(f"{where}: {key}: missing")
        return ()
    value = item[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where}: {key}: need a list of strings, got {value!r}")
    if required and not value:
        raise PolicyError(f"{where}: {key}: need at least one")
    return tuple(v.strip() for v in value)


def _label(item: Any, index: int) -> str:
    slug = item.get("slug") if isinstance(item, Mapping) else None
    return repr(slug) if isinstance(slug, str) and slug else f"#{index + 1}"


def _unique(policies: Sequence[Policy], where: str) -> None:
    seen: set[str] = set()
    for p in policies:
        if p.slug in seen:
            raise PolicyError(f"{where}: policy {p.slug!r}: slug: used by two policies")
        seen.add(p.slug)
