"""Moderation in the analysis against the real models in Triton: the rendered card is flagged
by ``personal-data`` with the read lines' boxes as evidence, a policy over the concept "dog"
flags dog.jpg with the concept's CAM region, each counterfactual (masked, re-scored through
Triton) drops the score, and the judged sample photos raise no flag under the defaults."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from glassbox.analysis import evidence
from glassbox.analysis.pipeline import analyze
from glassbox.config import Settings
from glassbox.moderation import default_policies, policy_from_dict
from glassbox.moderation.samples import CARD_EMAIL, CARD_PHONE, render_card

pytestmark = pytest.mark.integration

# faithfulness curves do not touch the flags: off, to keep the corpus run short
SETTINGS = replace(Settings(), faithfulness="off")
QUERIES = Path(__file__).resolve().parents[2] / (
    "services/glassbox/evaluation/eval_data/queries.json"
)


def test_the_card_is_flagged_for_personal_data_with_the_read_lines_as_evidence(
    inference, bank
) -> None:
    result = analyze(render_card(), inference, bank, SETTINGS)
    flags = {f["policy"]: f for f in result.flags}
    assert set(flags) == {"personal-data"}, result.flags
    flag = flags["personal-data"]
    policy = {p.slug: p for p in default_policies(SETTINGS)}["personal-data"]
    assert flag["score"] >= policy.hide_at and flag["hide"] is True
    found = {e["label"]: e for e in flag["evidence"]}
    assert set(found) == {"phone", "email"}
    assert found["phone"]["match"] == CARD_PHONE and found["email"]["match"] == CARD_EMAIL
    lines = {line.text: line for line in result.text_lines}
    for e in flag["evidence"]:  # each piece of evidence is a read line, with its box
        line = lines[e["text"]]
        assert e["box"] == pytest.approx(list(line.box), abs=1e-4)
        assert e["score"] == pytest.approx(line.score, abs=1e-4)
    assert found["phone"]["box"][1] < found["email"]["box"][1]  # the phone line is above
    assert "phone number “+44 20 7946 0958” read at" in flag["rule"]
    assert "e-mail address “jane.doe@example.org” read at" in flag["rule"]
    cf = flag["counterfactual"]
    assert cf["masked"] == 2 and cf["before"] == pytest.approx(flag["score"])
    assert cf["after"] < policy.flag_at, cf  # OCR reads nothing flaggable once they are masked
    assert cf["text"].startswith("masking these 2 regions drops the score from")


def test_a_policy_over_the_concept_dog_flags_dog_jpg_with_its_cam_region(
    inference, bank, samples
) -> None:
    dogs = policy_from_dict(
        {
            "slug": "dogs",
            "name": "dogs",
            "description": "Any dog: a broader concept over the breeds.",
            "signals": [{"kind": "concept", "labels": ["dog"]}],
            "flag_at": 0.5,
            "hide_at": 0.95,
            "action": "restrict",
        },
        bank=bank,
    )
    result = analyze((samples / "dog.jpg").read_bytes(), inference, bank, SETTINGS, policies=[dogs])
    (flag,) = result.flags
    (e,) = flag["evidence"]
    dog = bank.find("dog")[0]
    assert (e["kind"], e["concept"], e["label"]) == ("concept", dog, "dog")
    assert not bank.is_leaf(dog) and e["score"] >= 0.5
    # no single breed reaches it: the probability is spread over the breeds under "dog"
    assert max(c.prob for c in result.concepts if c.id in set(bank.leaves_of(dog))) < 0.5
    assert "concept “dog”" in flag["rule"] and "Eskimo dog" in flag["rule"]
    # the evidence box is the region the concept's CAM outlines, and its map is in cams
    grid = np.asarray(result.cams[dog], dtype=np.float32)
    region = evidence.region(grid, (result.height, result.width))
    assert e["box"] == pytest.approx(list(region), abs=1e-4)
    x0, y0, x1, y1 = e["box"]
    assert (x0 + x1) / 2 < 0.5 and (y0 + y1) / 2 > 0.5  # the dog sits lower left
    cf = flag["counterfactual"]
    assert cf["masked"] == 1 and cf["before"] == pytest.approx(e["score"], abs=1e-4)
    assert cf["after"] < 0.25 * cf["before"], cf  # masking the region removes the dog


def judged_photos() -> list[Path]:
    """The judged corpus of queries.json: its paths (darknet's and OpenCV's samples, which the
    setup installs), and its ``package:file`` photos whose package this environment has (as
    ``glassbox.evaluation.data.photo_path`` finds them)."""
    found = []
    for name in json.loads(QUERIES.read_text(encoding="utf-8"))["corpus"]:
        package, sep, rest = name.partition(":")
        if not sep:
            found.append(Path(name))
            continue
        folder = {"skimage": "data", "sklearn": "datasets/images"}.get(package)
        if folder is None:
            pytest.fail(f"{name}: a photo package this test does not know")
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found.append(Path(next(iter(spec.submodule_search_locations))) / folder / rest)
    return found


def test_the_judged_sample_photos_raise_no_flag_under_the_defaults(inference, bank) -> None:
    corpus = judged_photos()
    missing = [str(p) for p in corpus if not p.exists()]
    if missing:
        pytest.fail(f"judged photos missing (infra/bin/setup --test): {missing}")
    assert len(corpus) >= 19  # darknet's 7 and OpenCV's samples at least
    flagged = {}
    for path in corpus:
        result = analyze(path.read_bytes(), inference, bank, SETTINGS)
        if result.flags:
            flagged[path.name] = [f["rule"] for f in result.flags]
    assert flagged == {}
