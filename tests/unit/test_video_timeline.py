from __future__ import annotations

import pytest
from glassbox.video.shots import Shot
from glassbox.video.timeline import (
    EN_DASH,
    Instance,
    Observation,
    aggregate,
    covered_s,
    format_span,
    justify_ranges,
    merge_instances,
    summary_of_captions,
)

FPS = 25


def make_shots(*bounds_s: float) -> list[Shot]:
    frames = [round(b * FPS) for b in bounds_s]
    return [
        Shot(k, a, b, a / FPS, b / FPS, None if k == 0 else 0.9)
        for k, (a, b) in enumerate(zip(frames[:-1], frames[1:], strict=True))
    ]


SHOTS = make_shots(0, 4, 7, 9, 10)  # 0-4, 4-7, 7-9, 9-10: 10 s


def obs(name: str, shot: int, frame: int, score: float, key: str | None = None) -> Observation:
    return Observation(key or f"tag:{name}", name, shot, frame, score)


def only(insights, key):
    (found,) = [i for i in insights if i.key == key]
    return found


# --- spans and coverage ------------------------------------------------------------------


def test_spans_are_whole_seconds_joined_by_an_en_dash():
    assert format_span(0, 4.13) == "0:00\u20130:04"
    assert format_span(59.6, 61) == f"1:00{EN_DASH}1:01"
    assert format_span(3600, 3725) == f"1:00:00{EN_DASH}1:02:05"


def test_a_short_span_is_written_to_the_hundredth_rather_than_as_an_instant():
    assert format_span(4.2, 4.4) == f"0:04.20{EN_DASH}0:04.40"
    assert format_span(4.0, 4.0) == f"0:04{EN_DASH}0:04"
    with pytest.raises(ValueError):
        format_span(5, 4)


def test_coverage_is_the_union_of_the_ranges_clipped_to_the_video():
    instances = [Instance(0, 4, 0.5, 0, 0), Instance(3, 6, 0.5, 0, 1), Instance(8, 12, 0.5, 0, 2)]
    assert covered_s(instances) == pytest.approx(10.0)
    assert covered_s(instances, duration_s=10) == pytest.approx(8.0)
    assert covered_s([]) == 0.0


# --- merging -----------------------------------------------------------------------------


def test_touching_instances_merge_with_a_duration_weighted_confidence():
    merged = merge_instances([Instance(4, 7, 0.6, 120, 1), Instance(0, 4, 0.8, 50, 0)])
    assert len(merged) == 1
    (m,) = merged
    assert (m.start_s, m.end_s) == (0, 7)
    assert m.confidence == pytest.approx((4 * 0.8 + 3 * 0.6) / 7)
    assert (m.keyframe_frame, m.shot_index) == (50, 0)  # the most confident shot's


def test_instances_merge_across_a_gap_up_to_the_tolerance_only():
    a, b = Instance(0, 4, 0.8, 50, 0), Instance(4.4, 7, 0.9, 150, 2)
    assert len(merge_instances([a, b], gap_tolerance_s=0.5)) == 1
    assert merge_instances([a, b], gap_tolerance_s=0.5)[0].keyframe_frame == 150
    assert len(merge_instances([a, b], gap_tolerance_s=0.3)) == 2
    assert merge_instances([a, b], gap_tolerance_s=0.3) == [a, b]
    with pytest.raises(ValueError):
        merge_instances([a], gap_tolerance_s=-1)


def test_a_range_contained_in_the_previous_one_does_not_shrink_it():
    merged = merge_instances([Instance(0, 10, 0.5, 1, 0), Instance(2, 3, 0.9, 60, 1)], 0)
    assert [(m.start_s, m.end_s) for m in merged] == [(0, 10)]


# --- aggregation -------------------------------------------------------------------------


def test_per_shot_max_ranges_and_duration_weighted_video_score():
    observations = [
        obs("dog", 0, 50, 0.8),
        obs("dog", 0, 75, 0.6),
        obs("dog", 2, 200, 0.5),
        obs("person", 1, 140, 0.9),
    ]
    insights = aggregate(observations, SHOTS)
    dog = only(insights, "tag:dog")
    assert dog.name == "dog" and dog.kind == "tag"
    assert [(i.start_s, i.end_s, i.confidence, i.keyframe_frame) for i in dog.instances] == [
        (0.0, 4.0, 0.8, 50),
        (7.0, 9.0, 0.5, 200),
    ]
    assert dog.confidence == pytest.approx((4 * 0.8 + 2 * 0.5) / 10)
    assert dog.coverage == pytest.approx(0.6)
    person = only(insights, "tag:person")
    assert person.confidence == pytest.approx(0.27) and person.coverage == pytest.approx(0.3)
    assert [i.key for i in insights] == ["tag:dog", "tag:person"]  # most confident first


def test_consecutive_shots_merge_into_one_range():
    insights = aggregate([obs("dog", 0, 50, 0.8), obs("dog", 1, 140, 0.6)], SHOTS)
    (inst,) = only(insights, "tag:dog").instances
    assert (inst.start_s, inst.end_s, inst.shot_index) == (0, 7, 0)
    assert inst.confidence == pytest.approx((4 * 0.8 + 3 * 0.6) / 7)
    assert only(insights, "tag:dog").confidence == pytest.approx((4 * 0.8 + 3 * 0.6) / 10)


def test_a_bridged_gap_counts_for_coverage_but_not_for_confidence():
    shots = make_shots(0, 4, 4.4, 10)
    insights = aggregate([obs("dog", 0, 50, 1.0), obs("dog", 2, 150, 1.0)], shots)
    dog = only(insights, "tag:dog")
    assert [(i.start_s, i.end_s) for i in dog.instances] == [(0, 10)]
    assert dog.coverage == pytest.approx(1.0)
    assert dog.confidence == pytest.approx(9.6 / 10)
    apart = aggregate([obs("dog", 0, 50, 1.0), obs("dog", 2, 150, 1.0)], shots, gap_tolerance_s=0)
    assert len(only(apart, "tag:dog").instances) == 2
    assert only(apart, "tag:dog").coverage == pytest.approx(0.96)


def test_per_shot_mean_counts_keyframes_that_did_not_see_the_concept_as_zero():
    observations = [obs("dog", 0, 50, 0.8), obs("dog", 0, 75, 0.6), obs("cat", 0, 90, 0.3)]
    insights = aggregate(observations, SHOTS, per_shot="mean")
    assert only(insights, "tag:dog").instances[0].confidence == pytest.approx(1.4 / 3)
    assert only(insights, "tag:dog").instances[0].keyframe_frame == 50
    given = aggregate(
        observations, SHOTS, per_shot="mean", keyframes=[(0, 25), (0, 50), (0, 75), (0, 90)]
    )
    assert only(given, "tag:dog").instances[0].confidence == pytest.approx(1.4 / 4)
    assert only(given, "tag:cat").instances[0].confidence == pytest.approx(0.3 / 4)


def test_a_keyframe_reported_twice_keeps_its_best_score():
    insights = aggregate([obs("dog", 0, 50, 0.3), obs("dog", 0, 50, 0.7)], SHOTS, per_shot="mean")
    assert only(insights, "tag:dog").instances[0].confidence == pytest.approx(0.7)


def test_weak_and_zero_shots_are_dropped_and_insights_without_shots_vanish():
    observations = [obs("dog", 0, 50, 0.8), obs("dog", 2, 200, 0.1), obs("cat", 1, 140, 0.0)]
    insights = aggregate(observations, SHOTS, min_confidence=0.2)
    assert [i.key for i in insights] == ["tag:dog"]
    assert [(i.start_s, i.end_s) for i in insights[0].instances] == [(0, 4)]


def test_the_key_groups_and_the_first_name_and_kind_are_kept():
    observations = [
        Observation("n02084071", "dog", 0, 50, 0.8, kind="concept"),
        Observation("n02084071", "Dog", 3, 240, 0.9, kind="concept"),
        Observation("n02121808", "dog", 1, 140, 0.2),
    ]
    insights = aggregate(observations, SHOTS)
    first = only(insights, "n02084071")
    assert (first.name, first.kind, len(first.instances)) == ("dog", "concept", 2)
    assert only(insights, "n02121808").kind == "tag"


def test_the_duration_can_be_given_and_is_checked():
    insights = aggregate([obs("dog", 0, 50, 1.0)], SHOTS, duration_s=20)
    assert only(insights, "tag:dog").confidence == pytest.approx(0.2)
    assert only(insights, "tag:dog").coverage == pytest.approx(0.2)
    with pytest.raises(ValueError):
        aggregate([obs("dog", 0, 50, 1.0)], [])
    with pytest.raises(ValueError):
        aggregate([obs("dog", 0, 50, 1.0)], SHOTS, duration_s=0)


@pytest.mark.parametrize(
    ("observation", "kwargs"),
    [
        (obs("dog", 9, 50, 0.5), {}),
        (obs("dog", 0, 50, 1.5), {}),
        (obs("dog", 0, 50, -0.1), {}),
        (obs("dog", 0, 50, 0.5), {"per_shot": "median"}),
    ],
)
def test_bad_observations_and_options_are_refused(observation, kwargs):
    with pytest.raises(ValueError):
        aggregate([observation], SHOTS, **kwargs)


def test_no_observations_give_no_insights():
    assert aggregate([], SHOTS) == []


# --- text --------------------------------------------------------------------------------


def test_justify_ranges_lists_the_ranges_and_the_share_of_the_video():
    dog = only(aggregate([obs("dog", 0, 50, 0.8), obs("dog", 2, 200, 0.5)], SHOTS), "tag:dog")
    assert justify_ranges("dog", dog.instances, 10) == (
        f"dog, 0:00{EN_DASH}0:04 and 0:07{EN_DASH}0:09, 60% of the video"
    )
    assert (
        justify_ranges("dog", dog.instances[:1], 10) == f"dog, 0:00{EN_DASH}0:04, 40% of the video"
    )


def test_justify_ranges_lists_at_most_n_ranges_in_time_order():
    instances = [Instance(10 * k + 2, 10 * k + 4, 0.5, 0, k) for k in (4, 0, 2, 1, 3)]
    text = justify_ranges("car", instances, 100, max_ranges=3)
    assert text == (
        f"car, 0:02{EN_DASH}0:04, 0:12{EN_DASH}0:14, 0:22{EN_DASH}0:24 and 2 more, 10% of the video"
    )
    three = justify_ranges("car", instances[1:4], 100, max_ranges=3)
    assert three.startswith(f"car, 0:02{EN_DASH}0:04, 0:12{EN_DASH}0:14 and 0:22{EN_DASH}0:24,")


def test_justify_ranges_words_tiny_and_near_total_shares_honestly():
    assert justify_ranges("x", [Instance(0, 0.5, 1, 0, 0)], 100).endswith(", under 1% of the video")
    assert justify_ranges("x", [Instance(0, 99.5, 1, 0, 0)], 100).endswith(
        ", over 99% of the video"
    )
    assert justify_ranges("x", [Instance(0, 100, 1, 0, 0)], 100).endswith(", 100% of the video")
    assert justify_ranges("x", [Instance(0, 62.4, 1, 0, 0)], 100).endswith(", 62% of the video")
    assert justify_ranges("x", [], 100) == "x, not seen in the video"
    with pytest.raises(ValueError):
        justify_ranges("x", [], 0)


def test_summary_strings_captions_with_their_times():
    text = summary_of_captions([(0, 4.1, "A dog on grass."), (4.1, 9, "Two people talking.")])
    assert text == f"0:00{EN_DASH}0:04: A dog on grass. 0:04{EN_DASH}0:09: Two people talking."


def test_summary_merges_consecutive_identical_captions_only():
    text = summary_of_captions(
        [
            (0, 2, "a dog on grass"),
            (2, 4, "A dog on grass."),
            (4, 6, "Two  people talking"),
            (6, 8, "A dog on grass."),
        ]
    )
    assert text == (
        f"0:00{EN_DASH}0:04: A dog on grass. 0:04{EN_DASH}0:06: Two people talking. "
        f"0:06{EN_DASH}0:08: A dog on grass."
    )


def test_summary_leaves_out_shots_without_a_caption_and_they_separate_the_rest():
    text = summary_of_captions([(0, 2, "A cat."), (2, 3, "  "), (3, 5, "A cat."), (5, 6, "")])
    assert text == f"0:00{EN_DASH}0:02: A cat. 0:03{EN_DASH}0:05: A cat."
    assert summary_of_captions([]) == ""
    assert summary_of_captions([(0, 1, "Is it raining?")]) == f"0:00{EN_DASH}0:01: Is it raining?"
