from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import pytest
from glassbox.video.shots import Shot
from glassbox.video.timeline import Insight, Instance
from glassbox.video.webvtt import (
    chapters_vtt,
    json_payload,
    metadata_vtt,
    safe_cue_text,
    timestamp,
)

TIMESTAMP = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"
TIMING = re.compile(rf"^{TIMESTAMP} --> {TIMESTAMP}$")


@dataclass
class Cue:
    identifier: str | None
    start: float
    end: float
    payload: list[str]


def seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse(document: str) -> list[Cue]:
    """A strict little WebVTT reader: header, blank-line separated cues, a timing line with an
    optional identifier before it, and a non-empty payload free of "-->"."""
    assert document.endswith("\n") and "\r" not in document
    blocks = document[:-1].split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for block in blocks[1:]:
        lines = block.split("\n")
        assert all(line.strip() for line in lines), f"blank line inside a cue: {block!r}"
        identifier = None
        if not TIMING.match(lines[0]):
            identifier = lines.pop(0)
            assert "-->" not in identifier
        match = TIMING.match(lines[0])
        assert match, f"no timing line in {block!r}"
        start, end = seconds(*match.groups()[:4]), seconds(*match.groups()[4:])
        payload = lines[1:]
        assert payload and all("-->" not in line for line in payload)
        assert end > start
        cues.append(Cue(identifier, start, end, payload))
    starts = [c.start for c in cues]
    assert starts == sorted(starts)
    return cues


def make_shots(*frames: int, fps: float = 25) -> list[Shot]:
    return [
        Shot(k, a, b, a / fps, b / fps, None if k == 0 else 0.9)
        for k, (a, b) in enumerate(zip(frames[:-1], frames[1:], strict=True))
    ]


# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "00:00:00.000"),
        (4.125, "00:00:04.125"),
        (4.1204, "00:00:04.120"),
        (59.9996, "00:01:00.000"),
        (3723.5, "01:02:03.500"),
        (360000, "100:00:00.000"),
    ],
)
def test_timestamps_are_hh_mm_ss_mmm(value, text):
    assert timestamp(value) == text


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_timestamps_refuse_negative_and_non_finite_times(bad):
    with pytest.raises(ValueError):
        timestamp(bad)


# --- chapters ----------------------------------------------------------------------------


def test_chapters_have_one_cue_per_shot_with_its_caption_or_its_number():
    shots = make_shots(0, 103, 250, 300)
    document = chapters_vtt(shots, ["A dog on grass.", None, ""])
    assert document.startswith("WEBVTT\n\nshot-1\n00:00:00.000 --> 00:00:04.120\nA dog on grass.\n")
    cues = parse(document)
    assert [c.identifier for c in cues] == ["shot-1", "shot-2", "shot-3"]
    assert [c.payload for c in cues] == [["A dog on grass."], ["Shot 2"], ["Shot 3"]]
    assert [(c.start, c.end) for c in cues] == [(0, 4.12), (4.12, 10.0), (10.0, 12.0)]
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.end == b.start  # shots tile the video: chapters neither overlap nor gap


def test_chapters_without_titles_are_numbered_from_the_shot_index():
    shots = make_shots(0, 50, 100)
    cues = parse(chapters_vtt(shots))
    assert [c.payload for c in cues] == [["Shot 1"], ["Shot 2"]]
    with pytest.raises(ValueError):
        chapters_vtt(shots, ["only one"])


def test_hostile_titles_stay_inside_their_cue():
    shots = make_shots(0, 50, 100, 150, 200)
    titles = [
        "first line\n\nsecond --> 00:00:09.000 --> x",
        "<script>alert(1)</script> & <b>bold</b>",
        "\u202eevil\u0000\x07 bell\r\ncarriage\u2028sep\x0bvt",
        "\n\n\t ",
    ]
    cues = parse(chapters_vtt(shots, titles))
    assert len(cues) == 4
    texts = [c.payload for c in cues]
    assert all(len(p) == 1 for p in texts)
    assert html.unescape(texts[0][0]) == "first line second --> 00:00:09.000 --> x"
    assert "<" not in texts[1][0] and ">" not in texts[1][0]
    assert html.unescape(texts[1][0]) == "<script>alert(1)</script> & <b>bold</b>"
    assert texts[2][0] == "evil bell carriage sep vt"
    assert texts[3][0] == "Shot 4"


def test_long_titles_are_cut_with_an_ellipsis_before_escaping():
    text = safe_cue_text("a" * 150 + " & " + "b" * 100, max_chars=160)
    assert text.endswith("\u2026")
    assert html.unescape(text) == "a" * 150 + " & " + "b" * 6 + "\u2026"
    assert safe_cue_text("fine & dandy") == "fine &amp; dandy"


def test_a_zero_length_cue_still_ends_after_it_starts():
    zero = Shot(0, 10, 10, 0.4, 0.4, None)
    (cue,) = parse(chapters_vtt([zero]))
    assert cue.end == pytest.approx(0.401)


def test_an_empty_track_is_just_the_header():
    assert chapters_vtt([]) == "WEBVTT\n"
    assert metadata_vtt([]) == "WEBVTT\n"
    assert parse(metadata_vtt([])) == []


# --- metadata ----------------------------------------------------------------------------


def insight(name: str, key: str, *spans: tuple[float, float, float], kind: str = "tag") -> Insight:
    instances = tuple(Instance(a, b, c, 0, k) for k, (a, b, c) in enumerate(spans))
    return Insight(key, name, instances, confidence=0.5, coverage=0.5, kind=kind)


def test_metadata_has_one_json_cue_per_instance_in_time_order():
    dog = insight("dog", "tag:dog", (0, 4, 0.81234), (7, 9, 0.5))
    person = insight("person", "tag:person", (4, 7, 0.9), kind="face")
    cues = parse(metadata_vtt([dog, person]))
    assert [(c.start, c.end) for c in cues] == [(0, 4), (4, 7), (7, 9)]
    assert all(c.identifier is None and len(c.payload) == 1 for c in cues)
    payloads = [json.loads(c.payload[0]) for c in cues]
    assert payloads == [
        {"kind": "tag", "name": "dog", "confidence": 0.8123, "key": "tag:dog"},
        {"kind": "face", "name": "person", "confidence": 0.9, "key": "tag:person"},
        {"kind": "tag", "name": "dog", "confidence": 0.5, "key": "tag:dog"},
    ]
    assert cues[0].payload[0].startswith('{"kind":"tag","name":"dog","confidence":')


def test_metadata_payloads_survive_hostile_names_unchanged():
    name = 'a --> b\n\nc "quoted" <tag> & caf\u00e9 \u2028 \u0000'
    (cue,) = parse(metadata_vtt([insight(name, "k<>", (1, 2, 0.5))]))
    raw = cue.payload[0]
    assert raw.isascii() and "<" not in raw and ">" not in raw and "&" not in raw
    assert json.loads(raw)["name"] == name and json.loads(raw)["key"] == "k<>"


def test_json_payload_refuses_nan():
    with pytest.raises(ValueError):
        json_payload({"confidence": float("nan")})
