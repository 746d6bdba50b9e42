"""Policies applied to an observation (glassbox.moderation.flags): each signal kind's matching,
a broader concept over its hyponyms, the policy's score and evidence, flag and hide
thresholds, the rule in words, the counterfactual record and the JSON form of a hit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from glassbox.moderation.flags import (
    ConceptSeen,
    Observation,
    Seen,
    counterfactual,
    evaluate,
    rule_text,
    score_policy,
)
from glassbox.moderation.policies import Policy, Signal

from tests.unit.test_moderation_policies import small_bank

BOX_A = (0.1, 0.1, 0.4, 0.3)
BOX_B = (0.5, 0.5, 0.9, 0.8)


def policy(*signals: Signal, flag_at: float = 0.5, hide_at: float = 0.8, name: str = "test"):
    return Policy("test", name, "A test policy.", tuple(signals), flag_at, hide_at, "restrict")


def test_nudity_signals_read_only_their_labels_and_the_strongest_sets_the_score() -> None:
    seen = Observation(
        nudity=[
            Seen("FEMALE_BREAST_EXPOSED", BOX_A, 0.91),
            Seen("BUTTOCKS_EXPOSED", BOX_B, 0.62),
            Seen("FACE_FEMALE", (0, 0, 1, 1), 0.99),  # not a label of the policy
        ]
    )
    p = policy(
        Signal("nudity", labels=("FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED")), name="explicit"
    )
    scored = score_policy(p, seen)
    assert scored.score == pytest.approx(0.91)
    assert [(e.label, e.box) for e in scored.evidence] == [
        ("FEMALE_BREAST_EXPOSED", BOX_A),
        ("BUTTOCKS_EXPOSED", BOX_B),
    ]
    (hit,) = evaluate([p], seen)
    assert hit.rule == ("explicit: FEMALE_BREAST_EXPOSED 0.91 ≥ 0.50; BUTTOCKS_EXPOSED 0.62 ≥ 0.50")
    assert hit.hide  # 0.91 >= hide_at 0.8


def test_objects_are_read_by_coco_class_each_box_its_own_evidence() -> None:
    seen = Observation(
        objects=[Seen("knife", BOX_A, 0.71), Seen("knife", BOX_B, 0.55), Seen("fork", BOX_B, 0.9)]
    )
    (hit,) = evaluate([policy(Signal("object", labels=("knife",)), name="weapons")], seen)
    assert hit.score == pytest.approx(0.71) and not hit.hide
    assert [e.box for e in hit.evidence] == [BOX_A, BOX_B]
    assert hit.rule == "weapons: detected knife 0.71 ≥ 0.50; detected knife 0.55 ≥ 0.50"
    assert hit.regions() == [BOX_A, BOX_B]


def test_a_broader_concept_covers_its_hyponyms_through_the_bank() -> None:
    bank = small_bank()  # "dog" (4) is the broader concept over husky (0) and beagle (1)
    dogs = ConceptSeen(4, "dog", 0.62, BOX_A, carried=(("husky", 0.35), ("beagle", 0.27)))
    seen = Observation(concepts={4: dogs})
    by_name = policy(Signal("concept", labels=("dog",)), name="dogs")
    by_wnid = policy(Signal("concept", labels=("n02084071",)), name="dogs")
    (hit,) = evaluate([by_name], seen, bank)
    assert evaluate([by_wnid], seen, bank)[0].as_dict() == hit.as_dict()
    (e,) = hit.evidence
    assert (e.kind, e.label, e.concept, e.box, e.score) == ("concept", "dog", 4, BOX_A, 0.62)
    assert hit.rule == "dogs: concept “dog” 0.62 (husky 0.35, beagle 0.27) ≥ 0.50"
    # neither breed alone reaches 0.5: only the broader concept does
    assert evaluate([policy(Signal("concept", labels=("husky",)))], seen, bank) == []
    assert evaluate([by_name], seen) == []  # without the bank a concept label names nothing


def test_read_text_is_matched_by_pattern_with_the_lines_confidence_as_the_score() -> None:
    seen = Observation(
        text=[
            Seen("call 555 0134", BOX_A, 0.93),
            Seen("jane@example.org", BOX_B, 0.88),
            Seen("OPEN 24 HOURS", (0, 0, 1, 0.1), 0.99),
        ]
    )
    p = policy(Signal("text", patterns=("phone", "email", "card")), name="personal data")
    (hit,) = evaluate([p], seen)
    assert hit.score == pytest.approx(0.93)
    first, second = hit.evidence
    assert first.as_dict() == {
        "kind": "text",
        "label": "phone",
        "score": 0.93,
        "box": list(BOX_A),
        "concept": None,
        "text": "call 555 0134",
        "match": "555 0134",
    }
    assert (second.label, second.match) == ("email", "jane@example.org")
    assert hit.rule == (
        "personal data: phone number “555 0134” read at 0.93 ≥ 0.50; "
        "e-mail address “jane@example.org” read at 0.88 ≥ 0.50"
    )


def test_a_card_number_is_named_by_its_last_four_digits_in_the_rule() -> None:
    seen = Observation(text=[Seen("VISA 4111 1111 1111 1111", BOX_A, 0.97)])
    (hit,) = evaluate([policy(Signal("text", patterns=("card",)), name="cards")], seen)
    assert hit.rule == "cards: card-like number “•••• 1111” read at 0.97 ≥ 0.50"
    assert "4111 1111" not in hit.rule


def test_word_lists_and_regular_expressions_match_read_lines() -> None:
    seen = Observation(text=[Seen("Buy CHEAP pills now", BOX_A, 0.9)])
    p = policy(Signal("text", words=("cheap pills",), patterns=(r"re:\bbuy\b",)), name="spam")
    (hit,) = evaluate([p], seen)
    assert [(e.label, e.match) for e in hit.evidence] == [
        (r"re:\bbuy\b", "Buy"),
        ("word", "CHEAP pills"),
    ]
    assert hit.rule == (
        r"spam: text matching re:\bbuy\b “Buy” read at 0.90 ≥ 0.50; "
        "listed word “CHEAP pills” read at 0.90 ≥ 0.50"
    )


def test_no_flag_below_flag_at_and_only_evidence_at_flag_at_is_kept() -> None:
    seen = Observation(
        nudity=[Seen("BUTTOCKS_COVERED", BOX_A, 0.59), Seen("BUTTOCKS_COVERED", BOX_B, 0.6)]
    )
    p = policy(Signal("nudity", labels=("BUTTOCKS_COVERED",)), flag_at=0.6, hide_at=0.9)
    (hit,) = evaluate([p], seen)
    assert [e.box for e in hit.evidence] == [BOX_B]  # 0.59 is below 0.6: not evidence
    assert not hit.hide
    below = Observation(nudity=[Seen("BUTTOCKS_COVERED", BOX_A, 0.5999)])
    assert evaluate([p], below) == []
    assert score_policy(p, below).score == pytest.approx(0.5999)  # scored, not flagged
    assert evaluate([p], Observation()) == []


def test_flag_versus_hide() -> None:
    p = policy(Signal("object", labels=("knife",)), flag_at=0.5, hide_at=0.7)
    flagged = evaluate([p], Observation(objects=[Seen("knife", BOX_A, 0.69)]))[0]
    hidden = evaluate([p], Observation(objects=[Seen("knife", BOX_A, 0.7)]))[0]
    assert not flagged.hide and flagged.as_dict()["hide"] is False
    assert hidden.hide and hidden.as_dict()["hide"] is True


def test_a_policy_with_several_signals_scores_the_strongest_and_keeps_every_kind() -> None:
    bank = small_bank()
    seen = Observation(
        objects=[Seen("knife", BOX_B, 0.66)],
        concepts={3: ConceptSeen(3, "tank", 0.8, BOX_A)},
    )
    p = policy(Signal("concept", labels=("n04389033",)), Signal("object", labels=("knife",)))
    (hit,) = evaluate([p], seen, bank)
    assert hit.score == pytest.approx(0.8)
    assert [e.kind for e in hit.evidence] == ["concept", "object"]  # strongest first
    assert hit.regions() == [BOX_A, BOX_B]


def test_the_rule_names_at_most_three_and_counts_the_rest() -> None:
    seen = Observation(
        objects=[Seen("knife", (0.1 * k, 0, 0.1 * k + 0.05, 0.1), 0.9 - 0.05 * k) for k in range(5)]
    )
    p = policy(Signal("object", labels=("knife",)), name="weapons")
    (hit,) = evaluate([p], seen)
    assert hit.rule.endswith("detected knife 0.80 ≥ 0.50; and 2 more")
    assert hit.rule.count("detected knife") == 3
    assert rule_text(p, ()) == "weapons: nothing seen"


def test_counterfactual_records_and_their_words() -> None:
    assert counterfactual(0.93, 0.0, 1) == {
        "before": 0.93,
        "after": 0.0,
        "masked": 1,
        "text": "masking this region drops the score from 0.93 to 0.00",
    }
    assert counterfactual(0.91, 0.04, 2)["text"] == (
        "masking these 2 regions drops the score from 0.91 to 0.04"
    )
    assert (
        counterfactual(0.6, 0.7, 1)["text"]
        == "masking this region raises the score from 0.60 to 0.70"
    )
    assert counterfactual(0.6, 0.602, 1)["text"] == "masking this region leaves the score at 0.60"
    none = counterfactual(0.6, None, 0, "the evidence has no region to mask")
    assert none == {
        "before": 0.6,
        "after": None,
        "masked": 0,
        "text": "no counterfactual: the evidence has no region to mask",
    }


def test_a_hit_as_a_dict_is_the_contracts_json() -> None:
    p = policy(Signal("text", patterns=("phone",)), name="personal data in read text")
    p = Policy("personal-data", p.name, p.description, p.signals, 0.5, 0.9, "restrict")
    (hit,) = evaluate([p], Observation(text=[Seen("call 555 0134", BOX_A, 0.93)]))
    hit = hit.with_counterfactual(0.0, 1)
    d = json.loads(json.dumps(hit.as_dict()))
    assert set(d) == {"policy", "score", "hide", "rule", "evidence", "counterfactual"}
    assert (d["policy"], d["score"], d["hide"]) == ("personal-data", 0.93, True)  # >= 0.9
    assert d["rule"] == "personal data in read text: phone number “555 0134” read at 0.93 ≥ 0.50"
    assert d["counterfactual"]["text"] == "masking this region drops the score from 0.93 to 0.00"
    assert set(d["evidence"][0]) >= {"kind", "label", "score", "box", "concept", "text"}


def test_long_read_lines_are_shortened_in_the_rule() -> None:
    line = "mail " + "x" * 80 + "@example.org"
    (hit,) = evaluate(
        [policy(Signal("text", patterns=("email",)))], Observation(text=[Seen(line, BOX_A, 0.9)])
    )
    quoted = hit.rule.split("“")[1].split("”")[0]
    assert len(quoted) == 60 and quoted.endswith("…")
    assert hit.evidence[0].text == line  # the evidence keeps the whole line


def test_the_sample_card_is_a_png_with_the_phone_and_email_lines() -> None:
    import io

    from glassbox.moderation import samples
    from PIL import Image

    data = samples.personal_data_card()
    assert data == samples.render_card() and data.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(data))
    assert image.size == samples.CARD_SIZE
    assert samples.card_lines() == ("Jane Doe", f"Tel {samples.CARD_PHONE}", samples.CARD_EMAIL)
    pixels = np.asarray(image.convert("L"))
    assert pixels.min() < 60 and np.median(pixels) > 230  # dark text on a plain light card
    # what the policy would read on it (the real OCR is the integration test's)
    seen = Observation(text=[Seen(t, BOX_A, 0.99) for t in samples.card_lines()])
    policy_ = policy(Signal("text", patterns=("phone", "email", "card")))
    assert {e.label for e in evaluate([policy_], seen)[0].evidence} == {"phone", "email"}
