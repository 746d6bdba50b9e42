"""English for captions: articles, plurals, number words and the cleaning of quoted text.

Heuristics covering common cases, not a grammar: articles follow the pronunciation of the first
word ("an Eskimo dog", "a unicycle", "an hour", "an MP3 player"), plurals follow the usual
English rules plus a few irregular nouns ("oxen", "wolves", "goldfish").
"""

from __future__ import annotations

import re
import unicodedata

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def article(noun: str) -> str:
    """ "a" or "an", by how ``noun`` is pronounced (a heuristic covering common cases)."""
    word = noun.strip().split(" ")[0] if noun.strip() else ""
    low = word.lower()
    if not low:
        return "a"
    if re.match(r"(hour|honest|honou?r|heir)", low):
        return "an"
    if re.match(r"(uni|use|usu|ura|uro|uti|ute|eu|ewe|one\b|once|ukul)", low):
        return "a"
    if word.isupper() and len(word) > 1:  # an acronym, read letter by letter: "an MP3 player"
        return "an" if low[0] in "aefhilmnorsx" else "a"
    return "an" if low[0] in "aeiou" else "a"


_IRREGULAR = {
    "man": "men",
    "woman": "women",
    "child": "children",
    "person": "people",
    "foot": "feet",
    "tooth": "teeth",
    "goose": "geese",
    "mouse": "mice",
    "louse": "lice",
    "ox": "oxen",
    "sheep": "sheep",
    "deer": "deer",
    "fish": "fish",
    "bison": "bison",
    "moose": "moose",
    "swine": "swine",
    "aircraft": "aircraft",
    "species": "species",
    "cattle": "cattle",
    "wolf": "wolves",
    "knife": "knives",
    "leaf": "leaves",
    "shelf": "shelves",
    "loaf": "loaves",
    "calf": "calves",
    "half": "halves",
    "thief": "thieves",
}


def plural(noun: str) -> str:
    """The plural of a (possibly compound) noun: "dogs", "birds of prey", "foxes", "oxen"."""
    for joint in (" of ", " in ", " on "):
        if joint in noun:  # "bird of prey" -> "birds of prey"
            head, tail = noun.split(joint, 1)
            return plural(head) + joint + tail
    stem, _, last = noun.rpartition(" ")
    prefix = f"{stem} " if stem else ""
    low = last.lower()
    if low in _IRREGULAR:
        form = _IRREGULAR[low]
        return prefix + (form.capitalize() if last[:1].isupper() else form)
    if low.endswith(("fish", "sheep", "deer")):  # "goldfish", "bighorn sheep"
        return noun
    for ending, form in (("man", "men"), ("woman", "women")):
        if (
            low.endswith(ending)
            and len(low) > len(ending)
            and low not in ("human", "german", "roman")
        ):
            return prefix + last[: -len(ending)] + form
    if re.search(r"(s|x|z|ch|sh)$", low):
        return prefix + last + "es"
    if re.search(r"[^aeiou]y$", low):
        return prefix + last[:-1] + "ies"
    return prefix + last + "s"


def clean_text(text: str, limit: int) -> str:
    """``text`` made safe to quote on one line: control, format and separator characters
    become spaces, whitespace is collapsed, straight double quotes become single ones, and a
    text over ``limit`` characters is cut (at a word in its second half if it can) with "…"."""
    text = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text
    )  # controls, format characters, separators of every kind -> space
    text = " ".join(text.replace('"', "'").split())
    if len(text) > limit:
        cut = text[: limit - 1]
        if " " in cut[limit // 2 :]:  # prefer a word boundary in the second half
            cut = cut[: cut.rfind(" ")]
        text = cut.rstrip() + "…"
    return text
