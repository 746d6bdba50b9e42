"""Moderation policies (glassbox.moderation.policies): the TOML loader and the JSON form
validate alike, and every refusal names the file, the policy and the field; the shipped
defaults load against the real concept bank; GLASSBOX_MODERATION_POLICIES moves the file."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from glassbox import moderation
from glassbox.concepts import ConceptBank
from glassbox.config import Settings, load_settings
from glassbox.moderation.policies import (
    DEFAULT_POLICIES,
    Policy,
    PolicyError,
    Signal,
    concept_ids,
    default_policies,
    load_policies,
    policies_from_dicts,
    policy_from_dict,
)

GOOD = """
[[policies]]
slug = "dogs"
name = "dogs"
description = "Dogs, for a test."
flag_at = 0.5
hide_at = 0.9
action = "restrict"

[[policies.signals]]
kind = "concept"
labels = ["dog"]

[[policies]]
slug = "contact"
name = "contact data"
description = "Phone numbers and a banned word."
flag_at = 0.4
hide_at = 0.4
action = "remove"

[[policies.signals]]
kind = "text"
patterns = ["phone", "re:\\\\bsecret\\\\b"]
words = ["top secret"]

[[policies.signals]]
kind = "nudity"
labels = ["FEMALE_BREAST_EXPOSED"]

[[policies.signals]]
kind = "object"
labels = ["knife"]
"""


def small_bank() -> ConceptBank:
    """Leaves 0-3 ("husky", "beagle", "tabby", "rifle") and the broader "dog" over 0 and 1, and
    two concepts named "tank" (a leaf and a broader one) to be ambiguous."""
    names = ("husky", "beagle", "tabby", "tank", "dog", "tank")
    wnids = ("n02110185", "n02088364", "n02123045", "n04389033", "n02084071", "n04388743")
    members = np.array([[True, True, False, False], [False, False, False, True]])
    e = np.eye(len(names), 4, dtype=np.float32) + 0.01
    return ConceptBank(
        wnids=wnids,
        names=names,
        glosses=("",) * len(names),
        embeddings=e / np.linalg.norm(e, axis=1, keepdims=True),
        version="test",
        members=members,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def good_dicts() -> list[dict]:
    """GOOD as the plain tables and lists the TOML parser gives."""
    return tomllib.loads(GOOD)["policies"]


def test_a_good_file_loads_every_field_and_signal(tmp_path) -> None:
    dogs, contact = load_policies(write(tmp_path, GOOD), small_bank())
    assert dogs == Policy(
        "dogs", "dogs", "Dogs, for a test.", (Signal("concept", labels=("dog",)),), 0.5, 0.9,
        "restrict",
    )  # fmt: skip
    assert contact.signals == (
        Signal("text", patterns=("phone", r"re:\bsecret\b"), words=("top secret",)),
        Signal("nudity", labels=("FEMALE_BREAST_EXPOSED",)),
        Signal("object", labels=("knife",)),
    )
    assert (contact.flag_at, contact.hide_at, contact.action) == (0.4, 0.4, "remove")
    assert contact.kinds == {"text", "nudity", "object"}


def test_the_json_form_round_trips_to_equal_policies(tmp_path) -> None:
    policies = load_policies(write(tmp_path, GOOD))
    again = tuple(policy_from_dict(p.as_dict()) for p in policies)
    assert again == policies
    assert policies_from_dicts(json.loads(json.dumps([p.as_dict() for p in policies]))) == policies


def mutate(change) -> list[dict]:
    items = copy.deepcopy(good_dicts())
    change(items)
    return items


def refusal(items: list[dict], tmp_path: Path, bank=None) -> tuple[str, str]:
    """The messages of the file loader and of the JSON form, for the same policies."""
    path = write(tmp_path, to_toml(items))
    with pytest.raises(PolicyError) as from_file:
        load_policies(path, bank)
    with pytest.raises(PolicyError) as from_dicts:
        policies_from_dicts(items, bank, source="admin copy")
    return str(from_file.value), str(from_dicts.value)


def to_toml(items: list[dict]) -> str:
    """The JSON form written back as the TOML the loader reads (strings, numbers, lists)."""

    def value(v) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    out = []
    for item in items:
        out.append("[[policies]]")
        out += [f"{k} = {value(v)}" for k, v in item.items() if k != "signals"]
        for s in item.get("signals", []):
            out.append("[[policies.signals]]")
            out += [f"{k} = {value(v)}" for k, v in s.items()]
        if "signals" in item and not item["signals"]:
            out.append("signals = []")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (
            lambda d: d[1]["signals"][1].update(kind="smell"),
            r"'contact'.*signals\[1\]: kind 'smell'",
        ),
        (
            lambda d: d[1]["signals"][0]["patterns"].append("postcode"),
            r"'contact'.*signals\[0\]: patterns\[2\]: unknown pattern 'postcode'",
        ),
        (
            lambda d: d[1]["signals"][0]["patterns"].append("re:(unclosed"),
            r"'contact'.*patterns\[2\]: pattern 're:\(unclosed' is not a valid regular expression",
        ),
        (
            lambda d: d[1]["signals"][0]["patterns"].append("re:x*"),
            r"'contact'.*patterns\[2\]: .*matches the empty string",
        ),
        (
            lambda d: d[1]["signals"][1]["labels"].append("BOOBS"),
            r"'contact'.*signals\[1\]: labels\[1\]: unknown nudity-detector label 'BOOBS'",
        ),
        (
            lambda d: d[1]["signals"][2].update(labels=["sword"]),
            r"'contact'.*signals\[2\]: labels\[0\]: unknown COCO class 'sword'",
        ),
        (lambda d: d[0].pop("description"), r"'dogs': description: missing"),
        (lambda d: d[0].pop("flag_at"), r"'dogs': flag_at: missing"),
        (lambda d: d[0].pop("signals"), r"'dogs': signals: missing"),
        (lambda d: d[0]["signals"][0].pop("labels"), r"'dogs': signals\[0\]: labels: missing"),
        (lambda d: d[0].update(signals=[]), r"'dogs': signals: need a list of at least one"),
        (lambda d: d[0].update(flag_at=0), r"'dogs': flag_at 0.0 is out of range"),
        (lambda d: d[0].update(flag_at=1.5), r"'dogs': flag_at 1.5 is out of range"),
        (lambda d: d[0].update(hide_at=0.3), r"'dogs': hide_at 0.3 is out of range \(flag_at 0.5"),
        (lambda d: d[0].update(hide_at=1.01), r"'dogs': hide_at 1.01 is out of range"),
        (lambda d: d[0].update(flag_at="high"), r"'dogs': flag_at: need a number, got 'high'"),
        (lambda d: d[0].update(flag_at=True), r"'dogs': flag_at: need a number, got True"),
        (lambda d: d[0].update(action="ban"), r"'dogs': action 'ban' is unknown"),
        (lambda d: d[0].update(slug="Dogs!"), r"'Dogs!': slug 'Dogs!' must be lower-case"),
        (lambda d: d[0].update(colour="red"), r"'dogs': unknown field 'colour'"),
        (
            lambda d: d[0]["signals"][0].update(patterns=["phone"]),
            r"'dogs': signals\[0\]: patterns",
        ),
        (lambda d: d[1]["signals"][0].update(labels=["x"]), r"'contact'.*signals\[0\]: labels"),
        (
            lambda d: d[1]["signals"][0].update(patterns=[], words=[]),
            r"'contact'.*signals\[0\]: patterns: a text signal needs patterns or words",
        ),
        (lambda d: d[1].update(slug="dogs"), r"policy 'dogs': slug: used by two policies"),
    ],
)
def test_every_refusal_names_the_file_the_policy_and_the_field(tmp_path, change, names) -> None:
    from_file, from_dicts = refusal(mutate(change), tmp_path)
    path = str(tmp_path / "policies.toml")
    assert from_file.startswith(path + ": "), from_file
    assert re.search(names, from_file), from_file
    assert from_dicts.startswith("admin copy"), from_dicts
    assert re.search(names, from_dicts), from_dicts


def test_concept_labels_are_checked_against_the_bank_when_one_is_given(tmp_path) -> None:
    items = mutate(lambda d: d[0]["signals"][0].update(labels=["dog", "unicorn"]))
    load_policies(write(tmp_path, to_toml(items)))  # without a bank: a name is enough
    from_file, from_dicts = refusal(items, tmp_path, small_bank())
    for message in (from_file, from_dicts):
        assert re.search(r"'dogs': signals\[0\]: labels\[1\]: unknown concept 'unicorn'", message)
    ambiguous = mutate(lambda d: d[0]["signals"][0].update(labels=["tank"]))
    from_file, _ = refusal(ambiguous, tmp_path, small_bank())
    assert (
        "concept 'tank' is ambiguous: use one of its ids n04389033 (tank), n04388743" in from_file
    )
    unknown_id = mutate(lambda d: d[0]["signals"][0].update(labels=["n09999999"]))
    from_file, _ = refusal(unknown_id, tmp_path, small_bank())
    assert "unknown concept 'n09999999'" in from_file


def test_concept_labels_resolve_by_wordnet_id_or_name_and_the_unknown_read_nothing() -> None:
    bank = small_bank()
    signal = Signal("concept", labels=("n02084071", "tabby", "unicorn", "dog"))
    assert concept_ids(signal, bank) == (4, 2)  # "dog" twice is one concept


def test_a_file_that_is_not_toml_or_holds_no_policy_or_is_missing_is_refused(tmp_path) -> None:
    with pytest.raises(PolicyError, match=r"policies.toml: not valid TOML"):
        load_policies(write(tmp_path, "[[policies]\nslug = "))
    with pytest.raises(PolicyError, match=r"policies.toml: no \[\[policies\]\] table"):
        load_policies(write(tmp_path, "# nothing\n"))
    with pytest.raises(PolicyError, match=r"policies.toml: unknown top-level key 'policy'"):
        load_policies(write(tmp_path, '[[policy]]\nslug = "x"\n'))
    with pytest.raises(PolicyError, match=r"nowhere.toml: the policy file does not exist"):
        load_policies(tmp_path / "nowhere.toml")


def test_the_shipped_defaults_load_against_the_real_bank() -> None:
    path = Settings().concept_bank_path
    if not path.exists():
        pytest.fail(f"{path} is missing: run infra/bin/setup")
    bank = ConceptBank.load(path)
    policies = load_policies(DEFAULT_POLICIES, bank)
    slugs = [p.slug for p in policies]
    assert slugs == ["explicit-nudity", "suggestive", "weapons", "personal-data"]
    by_slug = {p.slug: p for p in policies}
    assert all(0 < p.flag_at <= p.hide_at <= 1 for p in policies)
    assert {s.kind for s in by_slug["weapons"].signals} == {"concept", "object"}
    (firearm,) = concept_ids(by_slug["weapons"].signals[0], bank)
    leaves = {bank.names[i] for i in bank.leaves_of(firearm)}
    assert leaves == {"rifle", "revolver", "assault rifle"}
    assert by_slug["weapons"].signals[1].labels == ("knife",)
    assert by_slug["personal-data"].signals[0].patterns == ("phone", "email", "card")
    explicit = set(by_slug["explicit-nudity"].signals[0].labels)
    assert explicit == set(moderation.FLAGGING_LABELS)  # the search filter's labels


def test_the_setting_moves_the_file_and_default_policies_reads_it_once(tmp_path) -> None:
    assert Settings().moderation_policies_path == DEFAULT_POLICIES
    path = write(tmp_path, GOOD)
    settings = load_settings({"GLASSBOX_MODERATION_POLICIES": str(path)})
    assert settings.moderation_policies_path == path
    bank = small_bank()
    first = default_policies(settings, bank)
    assert [p.slug for p in first] == ["dogs", "contact"]
    path.write_text("not toml at all [", encoding="utf-8")
    assert default_policies(settings, bank) is first  # read once, at start-up


def test_default_policies_fail_on_a_bad_file_with_its_name(tmp_path) -> None:
    path = write(tmp_path, GOOD.replace('kind = "object"', 'kind = "vibes"'))
    settings = load_settings({"GLASSBOX_MODERATION_POLICIES": str(path)})
    expected = f"{path}: policy 'contact': signals[2]: kind 'vibes' is unknown"
    with pytest.raises(PolicyError, match=re.escape(expected)):
        default_policies(settings, small_bank())


def test_the_package_keeps_the_search_filter_the_web_indexes() -> None:
    stored = [
        {"label": "FEMALE_BREAST_EXPOSED", "box": [0, 0, 1, 1], "score": 0.7},
        {"label": "BELLY_EXPOSED", "box": [0, 0, 1, 1], "score": 0.9},
        {"label": "BUTTOCKS_EXPOSED", "box": [0, 0, 1, 1], "score": 0.4},
    ]
    assert moderation.flagging(stored, 0.5) == [stored[0]]
    assert moderation.is_flagged(stored, 0.5) and not moderation.is_flagged(stored[1:], 0.5)
