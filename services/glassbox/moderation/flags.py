"""Policies applied to what an analysis saw: scores, evidence, the rule in words, flags.

:class:`Observation` is what the models found in one image, reduced to what the policies
read: the nudity detector's detections, the detected objects' boxes, the read lines, and the
score (and CAM region) of each concept a policy names. :func:`score_policy` gives a policy's
score, the strongest of its signals, with the evidence at or above ``flag_at``;
:func:`evaluate` turns every policy that reaches its ``flag_at`` into a :class:`FlagHit`.

The counterfactual ("masking this region drops the score from 0.93 to 0.00") needs the
models: ``glassbox.analysis.flags`` masks the evidence, observes the masked image again
through the same client, and scores the policy on that observation with the same
:func:`score_policy`; :meth:`FlagHit.with_counterfactual` records it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from glassbox.evidence_types import Box
from glassbox.moderation import patterns
from glassbox.moderation.policies import Policy, concept_ids

if TYPE_CHECKING:
    from glassbox.concepts import ConceptBank

# most evidence items a rule names before "and N more"
RULE_ITEMS = 3
# longest read text a rule quotes
QUOTE_CHARS = 60


@dataclass(frozen=True)
class Seen:
    """One thing a model found: a label, its box (fractions) and its score."""

    label: str
    box: Box | None
    score: float


@dataclass(frozen=True)
class ConceptSeen:
    """A concept a policy reads: its probability (a broader concept's is the sum over its
    leaves), the region its CAM outlines (``None`` without a CAM or without explanations),
    and for a broader concept the leaves that carry it, best first."""

    concept_id: int
    name: str
    score: float
    box: Box | None = None
    carried: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Observation:
    nudity: Sequence[Seen] = ()
    objects: Sequence[Seen] = ()  # one entry per detected box, COCO class names
    text: Sequence[Seen] = ()  # read lines: label is the line's text, score its confidence
    concepts: Mapping[int, ConceptSeen] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: ``label`` is the detector label, the concept's name, the COCO
    class, or for text the pattern kind (``phone``, ``email``, ``card``, ``re:…``, ``word``);
    ``text`` is the read line and ``match`` what matched in it."""

    kind: str
    label: str
    score: float
    box: Box | None = None
    concept: int | None = None
    text: str | None = None
    match: str | None = None
    said: str = ""  # this evidence in the rule's words

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "score": round(float(self.score), 4),
            "box": None if self.box is None else [round(float(v), 4) for v in self.box],
            "concept": self.concept,
            "text": self.text,
            "match": self.match,
        }


@dataclass(frozen=True)
class PolicyScore:
    score: float  # the strongest signal, 0 when nothing was seen
    evidence: tuple[Evidence, ...]  # everything at or above flag_at, strongest first


@dataclass(frozen=True)
class FlagHit:
    policy: Policy
    score: float
    evidence: tuple[Evidence, ...]
    counterfactual: dict | None = None

    @property
    def hide(self) -> bool:
        return self.score >= self.policy.hide_at

    @property
    def rule(self) -> str:
        return rule_text(self.policy, self.evidence)

    def regions(self) -> list[Box]:
        """The distinct boxes of the evidence: what a counterfactual masks."""
        return list(dict.fromkeys(tuple(e.box) for e in self.evidence if e.box is not None))

    def with_counterfactual(self, after: float | None, masked: int, why: str = "") -> FlagHit:
        """This hit with its counterfactual: the score after masking ``masked`` regions, or
        ``after=None`` and ``why`` no re-score was possible."""
        return replace(self, counterfactual=counterfactual(self.score, after, masked, why))

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.slug,
            "score": round(float(self.score), 4),
            "hide": self.hide,
            "rule": self.rule,
            "evidence": [e.as_dict() for e in self.evidence],
            "counterfactual": self.counterfactual,
        }


def score_policy(policy: Policy, seen: Observation, bank: ConceptBank | None = None) -> PolicyScore:
    """The policy's score on ``seen``: the strongest of its signals (0 without any), with
    the evidence that reaches ``flag_at``, strongest first. Concept labels are resolved in
    ``bank`` (without one, concept signals read nothing)."""
    found: list[Evidence] = []
    for signal in policy.signals:
        if signal.kind == "nudity":
            wanted = set(signal.labels)
            found += [
                Evidence("nudity", d.label, d.score, d.box, said=f"{d.label} {d.score:.2f}")
                for d in seen.nudity
                if d.label in wanted
            ]
        elif signal.kind == "object":
            wanted = set(signal.labels)
            found += [
                Evidence(
                    "object", o.label, o.score, o.box, said=f"detected {o.label} {o.score:.2f}"
                )
                for o in seen.objects
                if o.label in wanted
            ]
        elif signal.kind == "concept":
            ids = concept_ids(signal, bank) if bank is not None else ()
            found += [_concept_evidence(seen.concepts[c]) for c in ids if c in seen.concepts]
        else:
            for line in seen.text:
                for m in patterns.find(line.label, signal.patterns, signal.words):
                    found.append(
                        Evidence(
                            "text",
                            m.kind,
                            line.score,
                            line.box,
                            text=line.label,
                            match=m.text,
                            said=f"{m.description} “{_quote(m.shown())}” read at {line.score:.2f}",
                        )
                    )
    found = _distinct(found)
    score = max((e.score for e in found), default=0.0)
    kept = sorted((e for e in found if e.score >= policy.flag_at), key=lambda e: -e.score)
    return PolicyScore(float(score), tuple(kept))


def evaluate(
    policies: Iterable[Policy], seen: Observation, bank: ConceptBank | None = None
) -> list[FlagHit]:
    """A hit for every policy whose score reaches its ``flag_at``, in policy order."""
    hits = []
    for policy in policies:
        scored = score_policy(policy, seen, bank)
        if scored.evidence and scored.score >= policy.flag_at:
            hits.append(FlagHit(policy, scored.score, scored.evidence))
    return hits


def rule_text(policy: Policy, evidence: Sequence[Evidence]) -> str:
    """The rule in words: "explicit nudity: FEMALE_BREAST_EXPOSED 0.91 ≥ 0.60", naming the
    strongest evidence first (at most ``RULE_ITEMS``, then "and N more")."""
    shown = [f"{e.said} ≥ {policy.flag_at:.2f}" for e in evidence[:RULE_ITEMS]]
    if len(evidence) > RULE_ITEMS:
        shown.append(f"and {len(evidence) - RULE_ITEMS} more")
    return f"{policy.name}: {'; '.join(shown)}" if shown else f"{policy.name}: nothing seen"


def counterfactual(before: float, after: float | None, masked: int, why: str = "") -> dict:
    """``{"before", "after", "masked", "text"}``; ``after`` is ``None`` (and ``text`` says why)
    when the evidence could not be scored again."""
    if after is None:
        return {
            "before": round(float(before), 4),
            "after": None,
            "masked": 0,
            "text": f"no counterfactual: {why}" if why else "no counterfactual",
        }
    what = "this region" if masked == 1 else f"these {masked} regions"
    if abs(after - before) < 0.005:
        said = f"masking {what} leaves the score at {before:.2f}"
    else:
        verb = "drops" if after < before else "raises"
        said = f"masking {what} {verb} the score from {before:.2f} to {after:.2f}"
    return {
        "before": round(float(before), 4),
        "after": round(float(after), 4),
        "masked": int(masked),
        "text": said,
    }


def _concept_evidence(c: ConceptSeen) -> Evidence:
    said = f"concept “{c.name}” {c.score:.2f}"
    if c.carried:
        said += " (" + ", ".join(f"{n} {p:.2f}" for n, p in c.carried) + ")"
    return Evidence("concept", c.name, c.score, c.box, concept=c.concept_id, said=said)


def _distinct(found: list[Evidence]) -> list[Evidence]:
    """One evidence per thing: a concept named by two signals, or a match found by two
    patterns, counts once."""
    seen: set[tuple] = set()
    out = []
    for e in found:
        key = (e.kind, e.label, e.concept, None if e.box is None else tuple(e.box), e.match)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"
