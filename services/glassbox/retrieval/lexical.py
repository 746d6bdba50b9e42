"""Words for the lexical search channels (caption text and text read in the image).

Milvus scores the caption and OCR channels with BM25 over a whitespace-separated string of
*stems*. Stemming happens here, not in Milvus, for two reasons: Milvus Lite's analyzer runs
only the ``standard`` tokenizer (it ignores stemmer and stop-word filters: "dog" did not find
"dogs" when tried), and the explanation must say which query word matched which word of the
caption or of a read line, which needs the very same normalisation on both sides.

The stemmer is deliberately light (plural and verb suffixes, a few irregular plurals): it
must never merge unrelated words, and a query word that it leaves unmatched is shown as such.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Short function words carry no evidence; a query made only of them matches nothing lexically.
STOP_WORDS = frozenset(
    """a an and are as at be but by for from has have in into is it its of on or over that the
    their there these this those to under was were with without""".split()
)
_IRREGULAR = {
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "knives": "knife",
    "leaves": "leaf",
    "wolves": "wolf",
}
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Word:
    text: str  # as written
    stem: str  # what is indexed and compared
    start: int  # character offsets in the source text
    end: int


def stem(word: str) -> str:
    """The light stem of one lower-cased word ("dogs" → "dog", "running" → "run")."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: -len(suffix)]
            if not any(ch in "aeiouy" for ch in base):
                return w
            if len(base) >= 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running → run, stopped → stop
            return base
    return w


def words(text: str) -> list[Word]:
    """The content words of ``text`` (stop words and symbols dropped), in order."""
    found = []
    normalised = unicodedata.normalize("NFKC", text or "")
    for match in _WORD.finditer(normalised):
        raw = match.group(0)
        if raw.lower() in STOP_WORDS:
            continue
        found.append(Word(raw, stem(raw), match.start(), match.end()))
    return found


def index_text(text: str) -> str:
    """What goes into Milvus for BM25: the stems, space-separated."""
    return " ".join(w.stem for w in words(text))


def stems(text: str) -> set[str]:
    return {w.stem for w in words(text)}
