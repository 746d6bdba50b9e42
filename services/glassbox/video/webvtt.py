"""WebVTT files for a video player: chapters (one cue per shot) and timed metadata (one cue
per insight instance, a JSON line each).

The output follows the W3C WebVTT format: a ``WEBVTT`` header line, then cues separated by one
blank line, each a timing line ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` (hours always written, two
digits or more) and its payload, cues in order of start time, ``\\n`` line ends, a final line
end. A cue's end is at least one millisecond after its start.

Titles are untrusted text (captions, user edits) shown by the player, so
:func:`safe_cue_text` makes them one line: every run of whitespace, line breaks included,
becomes one space; control characters, lone surrogates and bidirectional overrides are
removed; long titles are cut with an ellipsis; and ``&``, ``<`` and ``>`` are written as
character references, which also rules out ``-->`` inside a cue. A metadata payload is one
line of ASCII JSON (non-ASCII and control characters as ``\\uXXXX`` escapes) with ``<``,
``>`` and ``&`` escaped the same way: ``JSON.parse`` reads it back unchanged.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Sequence

from glassbox.video.shots import Shot
from glassbox.video.timeline import Insight

HEADER = "WEBVTT"
MAX_TITLE_CHARS = 200
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def timestamp(seconds: float) -> str:
    """``4.125`` -> "00:00:04.125" (to the nearest millisecond)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a cue time must be a finite number of seconds >= 0, not {seconds!r}")
    ms = math.floor(seconds * 1000 + 0.5)
    return _from_ms(ms)


def _from_ms(ms: int) -> str:
    whole, millis = divmod(ms, 1000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _timing(start_s: float, end_s: float) -> str:
    if end_s < start_s:
        raise ValueError(f"a cue must not end ({end_s}) before it starts ({start_s})")
    start = timestamp(start_s)
    end_ms = max(math.floor(end_s * 1000 + 0.5), math.floor(start_s * 1000 + 0.5) + 1)
    return f"{start} --> {_from_ms(end_ms)}"


def _one_line(text: str) -> str:
    kept = (
        ch
        for ch in text
        if ch.isspace()
        or (ch not in _BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs"))
    )
    return " ".join("".join(kept).split())


def safe_cue_text(text: str, max_chars: int = MAX_TITLE_CHARS) -> str:
    """Untrusted text as one line of WebVTT cue text (module docstring); ``""`` if nothing
    printable is left."""
    line = _one_line(text)
    if len(line) > max_chars:
        line = line[: max_chars - 1].rstrip() + "\u2026"
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def json_payload(data: dict) -> str:
    """``data`` as one line of ASCII JSON safe in a WebVTT cue (module docstring)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _JSON_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _document(cues: Iterable[tuple[float, float, str | None, str]]) -> str:
    """The file for ``(start_s, end_s, identifier or None, payload)`` cues."""
    blocks = [HEADER]
    for start, end, identifier, payload in sorted(cues, key=lambda c: (c[0], c[1])):
        lines = [identifier] if identifier else []
        blocks.append("\n".join([*lines, _timing(start, end), payload]))
    return "\n\n".join(blocks) + "\n"


def chapters_vtt(shots: Sequence[Shot], titles: Sequence[str | None] | None = None) -> str:
    """A chapters track, one cue per shot: ``titles[k]`` (the caption of ``shots[k]``, made
    safe) or, when it is missing or empty, "Shot N" (N = the shot's index + 1). Cue ids are
    "shot-N"."""
    if titles is not None and len(titles) != len(shots):
        raise ValueError(f"{len(titles)} titles for {len(shots)} shots")
    cues = []
    for k, shot in enumerate(shots):
        title = safe_cue_text(titles[k] or "") if titles is not None else ""
        number = shot.index + 1
        cues.append((shot.start_s, shot.end_s, f"shot-{number}", title or f"Shot {number}"))
    return _document(cues)


def metadata_vtt(insights: Iterable[Insight]) -> str:
    """A metadata track, one cue per instance of every insight, its payload
    ``{"kind":…,"name":…,"confidence":…,"key":…}`` (confidence to 4 decimals)."""
    cues = []
    for insight in insights:
        for inst in insight.instances:
            payload = json_payload(
                {
                    "kind": insight.kind,
                    "name": insight.name,
                    "confidence": round(float(inst.confidence), 4),
                    "key": insight.key,
                }
            )
            cues.append((inst.start_s, inst.end_s, None, payload))
    return _document(cues)
