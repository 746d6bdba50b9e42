from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from glassbox.concepts import ConceptBank
from glassbox.explain.caption import NO_CAPTION, RULES, Caption, compose_caption

LEAVES = [
    "Eskimo dog",  # 0
    "malamute",  # 1
    "Siberian husky",  # 2
    "bicycle",  # 3
    "zebra",  # 4
    "collie",  # 5
    "tabby",  # 6
    "hourglass",  # 7
]
# broader concepts: name -> leaves
BROADER = {
    "working dog": (0, 1, 2),
    "dog": (0, 1, 2, 5),
    "canine": (0, 1, 2, 5, 6),
    "animal": (0, 1, 2, 4, 5, 6),
}
DOG, WORKING_DOG, CANINE, ANIMAL = (len(LEAVES) + k for k in (1, 0, 2, 3))


def make_bank() -> ConceptBank:
    names = LEAVES + list(BROADER)
    members = np.zeros((len(BROADER), len(LEAVES)), dtype=bool)
    for row, leaves in enumerate(BROADER.values()):
        members[row, list(leaves)] = True
    e = np.eye(len(names), dtype=np.float32)
    return ConceptBank(
        wnids=tuple(f"n{i:08d}" for i in range(len(names))),
        names=tuple(names),
        glosses=tuple("" for _ in names),
        embeddings=e,
        version="test",
        members=members,
    )


BANK = make_bank()


def blob(*cells: tuple[int, int], value: float = 10.0) -> np.ndarray:
    """A 7x7 CAM, hot at ``cells`` and slightly negative elsewhere."""
    grid = np.full((7, 7), -0.5, dtype=np.float32)
    for row, col in cells:
        grid[row, col] = value
    return grid


def caption_of(probs: dict[int, float], maps: dict[int, np.ndarray], lines=(), **kw) -> Caption:
    caption = compose_caption(probs, BANK, maps, lines, **kw)
    check_grounded(caption)
    return caption


def check_grounded(caption: Caption) -> None:
    """The invariants every caption keeps."""
    assert caption.text
    previous_end = 0
    for p in caption.phrases:
        assert p.kind in ("concept", "text", "count", "position")
        assert 0 <= previous_end <= p.start < p.end <= len(caption.text)
        assert caption.text[p.start : p.end] == p.label
        assert p.evidence.boxes, f"{p.label!r} has no box"
        for x0, y0, x1, y1 in p.evidence.boxes:
            assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
        assert p.evidence.concept_ids or p.evidence.line is not None
        previous_end = p.end
    as_dict = caption.as_dict()
    assert as_dict["text"] == caption.text
    assert [(d["start"], d["end"]) for d in as_dict["phrases"]] == [
        (p.start, p.end) for p in caption.phrases
    ]


def kinds(caption: Caption) -> list[tuple[str, str]]:
    return [(p.kind, p.label) for p in caption.phrases]


# --- the level of the hierarchy -------------------------------------------------------


def test_a_confident_leaf_is_named_with_its_article_and_region():
    caption = caption_of({0: 0.8, 1: 0.1}, {0: blob((1, 1)), 1: blob((5, 5))})
    assert caption.text == "An Eskimo dog."
    (phrase,) = caption.phrases
    assert (phrase.kind, phrase.label, phrase.evidence.concept_ids) == (
        "concept",
        "Eskimo dog",
        (0,),
    )
    (box,) = phrase.evidence.boxes
    assert box[2] < 0.5 and box[3] < 0.5  # the CAM is hot at cell (1, 1): the top-left


def test_probability_spread_over_breeds_names_the_lowest_broader_concept_gathering_it():
    probs = {0: 0.28, 1: 0.26, 5: 0.2, 6: 0.1}  # no breed is confident; dogs hold 0.74
    maps = {c: blob((3, 3)) for c in probs}
    caption = caption_of(probs, maps)
    assert caption.text == "A dog."  # not "a canine" (0.84, broader) nor a 28% breed
    assert caption.phrases[0].evidence.concept_ids == (DOG,)


def test_a_compound_name_gives_way_to_its_head_noun_when_that_concept_qualifies():
    probs = {0: 0.3, 1: 0.3, 2: 0.2}  # "working dog" is the lowest (0.8), "dog" also has 0.8
    caption = caption_of(probs, {c: blob((3, 3)) for c in probs})
    assert caption.text == "A dog."


def test_broader_concepts_over_the_size_limit_are_too_abstract_to_caption_with():
    probs = {4: 0.35, 6: 0.35}  # zebra + tabby: only "animal" gathers them
    maps = {c: blob((3, 3)) for c in probs}
    assert caption_of(probs, maps).text == "An animal."
    narrow = replace(RULES, max_group_leaves=5)
    assert caption_of(probs, maps, rules=narrow).text == NO_CAPTION


def test_mass_without_a_cam_cannot_be_shown_and_does_not_count():
    probs = {0: 0.3, 1: 0.3, 5: 0.2}
    maps = {0: blob((3, 3))}  # only the Eskimo dog has a map: 0.3 of grounded mass
    assert caption_of(probs, maps).text == NO_CAPTION


# --- positions ------------------------------------------------------------------------


def test_two_concepts_with_separated_boxes_are_related_by_their_centres():
    maps = {0: blob((3, 1)), 3: blob((3, 5))}
    caption = caption_of({0: 0.55, 3: 0.35}, maps)
    assert caption.text == "An Eskimo dog on the left of a bicycle."
    assert kinds(caption) == [
        ("concept", "Eskimo dog"),
        ("position", "on the left of"),
        ("concept", "bicycle"),
    ]
    position = caption.phrases[1]
    assert position.evidence.concept_ids == (0, 3) and len(position.evidence.boxes) == 2
    assert position.evidence.boxes[0] == caption.phrases[0].evidence.boxes[0]

    right = caption_of({0: 0.55, 3: 0.35}, {0: blob((3, 5)), 3: blob((3, 1))})
    assert right.text == "An Eskimo dog on the right of a bicycle."
    above = caption_of({0: 0.55, 3: 0.35}, {0: blob((1, 3)), 3: blob((5, 3))})
    assert above.text == "An Eskimo dog above a bicycle."
    below = caption_of({0: 0.55, 3: 0.35}, {0: blob((5, 3)), 3: blob((1, 3))})
    assert below.text == "An Eskimo dog below a bicycle."


def test_overlapping_or_close_boxes_are_only_joined_by_and():
    caption = caption_of({0: 0.55, 3: 0.35}, {0: blob((3, 3)), 3: blob((3, 3))})
    assert caption.text == "An Eskimo dog and a bicycle."
    assert [p.kind for p in caption.phrases] == ["concept", "concept"]


def test_a_second_concept_must_be_confident_and_must_not_overlap_the_first():
    weak = caption_of({0: 0.55, 3: 0.2}, {0: blob((3, 1)), 3: blob((3, 5))})
    assert weak.text == "An Eskimo dog."
    # after "dog", "canine" and "animal" overlap it: never "a dog and a canine"
    probs = {0: 0.3, 1: 0.3, 6: 0.35}
    caption = caption_of(probs, {0: blob((3, 1)), 1: blob((3, 1)), 6: blob((3, 5))})
    assert caption.text == "A dog on the left of a tabby."


# --- counts ---------------------------------------------------------------------------


def test_two_clearly_separate_regions_give_a_count_with_both_boxes():
    caption = caption_of({4: 0.9}, {4: blob((1, 1), (5, 5))})
    assert caption.text == "Two zebras."
    assert kinds(caption) == [("count", "Two"), ("concept", "zebras")]
    count = caption.phrases[0]
    assert len(count.evidence.boxes) == 2 and count.evidence.concept_ids == (4,)
    assert caption.phrases[1].evidence.boxes == count.evidence.boxes
    three = caption_of({4: 0.9}, {4: blob((1, 1), (1, 5), (5, 3))})
    assert three.text == "Three zebras."


def test_touching_or_weak_regions_give_no_count():
    assert caption_of({4: 0.9}, {4: blob((3, 2), (3, 3))}).text == "A zebra."
    weak = blob((1, 1))
    weak[5, 5] = 3.0  # a second region, but far below the peak
    assert caption_of({4: 0.9}, {4: weak}).text == "A zebra."
    # regions joined by a warm bridge stay one region
    bridged = blob((3, 1), (3, 5))
    bridged[3, 2:5] = 6.0
    assert caption_of({4: 0.9}, {4: bridged}).text == "A zebra."


# --- visible text ---------------------------------------------------------------------


def test_confident_ocr_lines_are_quoted_with_their_boxes():
    lines = [
        ("GLASSBOX 2026", (0.1, 0.05, 0.6, 0.15), 0.97),
        ("blurry", (0.1, 0.5, 0.3, 0.6), 0.4),  # too unsure to quote
    ]
    caption = caption_of({0: 0.8}, {0: blob((4, 3))}, lines)
    assert caption.text == 'An Eskimo dog with the text "GLASSBOX 2026".'
    text = caption.phrases[-1]
    assert (text.kind, text.label, text.evidence.line) == ("text", "GLASSBOX 2026", 0)
    assert text.evidence.boxes == ((0.1, 0.05, 0.6, 0.15),)


def test_several_lines_in_reading_order_and_long_lines_cut_at_a_word():
    lines = [
        ("second line", (0.1, 0.6, 0.5, 0.7), 0.9),
        ("first", (0.1, 0.1, 0.5, 0.2), 0.9),
        ("a very long line of text that goes on and on and on", (0.1, 0.8, 0.9, 0.9), 0.9),
        ("fourth, dropped", (0.1, 0.95, 0.9, 0.99), 0.9),
    ]
    caption = caption_of({}, {}, lines)
    assert caption.text == (
        'The text "first", "second line" and "a very long line of text that goes on…".'
    )
    assert [p.evidence.line for p in caption.phrases] == [1, 0, 2]
    assert all(len(p.label) <= RULES.text_max_chars for p in caption.phrases)


def test_untrusted_ocr_text_stays_plain_text_with_quotes_and_controls_cleaned():
    lines = [('<script>alert("x")</script>\x00\n', (0.2, 0.2, 0.8, 0.4), 0.99)]
    caption = caption_of({}, {}, lines)
    # not escaped here (whoever renders it escapes), only cleaned
    assert caption.text == "The text \"<script>alert('x')</script>\"."
    assert caption.phrases[0].label == "<script>alert('x')</script>"


def test_ocr_lines_may_be_objects_with_text_box_and_score():
    line = SimpleNamespace(text="EXIT", box=(0.4, 0.1, 0.6, 0.2), score=0.9)
    caption = caption_of({0: 0.8}, {0: blob((4, 3))}, [line])
    assert caption.text == 'An Eskimo dog with the text "EXIT".'


def test_ocr_lines_without_a_usable_box_or_text_are_dropped():
    lines = [("   ", (0.1, 0.1, 0.2, 0.2), 0.99), ("ok", (0.5, 0.5, 0.5, 0.6), 0.99)]
    assert caption_of({}, {}, lines).text == NO_CAPTION


# --- nothing confident ----------------------------------------------------------------


def test_no_evidence_gives_the_plain_fallback_without_phrases():
    for probs, maps in [
        ({}, {}),
        ({0: 0.2, 3: 0.15}, {0: blob((1, 1)), 3: blob((5, 5))}),  # nothing confident
        ({0: 0.9}, {0: np.full((7, 7), -1.0)}),  # confident, but no positive evidence
        ({0: 0.9}, {}),  # confident, but no map at all
    ]:
        caption = caption_of(probs, maps)
        assert caption.text == NO_CAPTION and caption.phrases == []
    assert Caption().text == NO_CAPTION


def test_random_inputs_always_give_grounded_captions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        ids = rng.choice(len(LEAVES), size=rng.integers(0, len(LEAVES) + 1), replace=False)
        p = rng.dirichlet(np.full(len(LEAVES), rng.uniform(0.05, 2.0)))
        probs = {int(c): float(p[c]) for c in ids}
        maps = {int(c): rng.normal(size=(7, 7)) ** 3 for c in ids}
        lines = [
            (
                "".join(rng.choice(list('ab "<>\n\t'), size=rng.integers(0, 60))),
                tuple(sorted(rng.uniform(0, 1, 2))) + tuple(sorted(rng.uniform(0, 1, 2))),
                float(rng.uniform(0.5, 1.0)),
            )
            for _ in range(rng.integers(0, 4))
        ]
        lines = [(t, (b[0], b[2], b[1], b[3]), s) for t, b, s in lines]
        aspect = (int(rng.integers(50, 900)), int(rng.integers(50, 900)))
        caption = caption_of(probs, maps, lines, aspect=aspect)
        if caption.phrases:
            assert caption.text.endswith(".") and caption.text[0].isupper()

