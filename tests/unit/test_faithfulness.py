from __future__ import annotations

import numpy as np
import pytest
from glassbox.explain.faithfulness import (
    blurred,
    counterfactual,
    evidence_mask,
    faithfulness,
    faithfulness_of_maps,
    mask_region,
    mean_colour,
    random_order,
    saliency_order,
    sweep_curve,
    trapezoid_auc,
)

SIZE = 48
PATCH = (slice(8, 20), slice(26, 38))  # rows, columns of the evidence the model looks at
ELSEWHERE = (slice(30, 42), slice(4, 16))


def scene() -> np.ndarray:
    """Mid-grey texture with a bright patch where the synthetic model looks."""
    rng = np.random.default_rng(7)
    image = rng.integers(30, 60, size=(SIZE, SIZE, 3)).astype(np.uint8)
    image[PATCH] = 250
    return image


def patch_brightness(batch: np.ndarray) -> np.ndarray:
    """The synthetic model: the class score is the patch's mean brightness, in [0, 1]."""
    return batch[:, PATCH[0], PATCH[1], :].mean(axis=(1, 2, 3)) / 255.0


def map_on(region: tuple[slice, slice]) -> np.ndarray:
    saliency = np.zeros((SIZE, SIZE))
    saliency[region] = 1.0
    return saliency


def test_trapezoid_auc_is_normalised_to_the_x_range() -> None:
    x = np.linspace(0.0, 1.0, 11)
    assert trapezoid_auc(x, np.ones_like(x)) == pytest.approx(1.0)
    assert trapezoid_auc(x, x) == pytest.approx(0.5)
    assert trapezoid_auc(2 * x, x) == pytest.approx(0.5)


def test_the_true_map_deletes_much_faster_than_random() -> None:
    result = faithfulness(scene(), map_on(PATCH), patch_brightness, steps=20)
    assert result.deletion.auc < 0.5 * result.random_deletion.auc


def test_the_true_map_inserts_much_faster_than_random() -> None:
    result = faithfulness(scene(), map_on(PATCH), patch_brightness, steps=20)
    assert result.insertion.auc > result.random_insertion.auc + 0.15
    assert result.insertion.auc > 0.9


def test_a_map_pointing_elsewhere_is_no_better_than_random() -> None:
    result = faithfulness(scene(), map_on(ELSEWHERE), patch_brightness, steps=20)
    assert result.deletion.auc >= result.random_deletion.auc - 0.02
    assert result.insertion.auc <= result.random_insertion.auc + 0.02


@pytest.mark.parametrize("region", [PATCH, ELSEWHERE])
def test_aucs_lie_in_zero_one_and_curves_span_the_whole_range(region) -> None:
    result = faithfulness(scene(), map_on(region), patch_brightness, steps=10, batch_size=3)
    for curve in (
        result.deletion,
        result.insertion,
        result.random_deletion,
        result.random_insertion,
    ):
        assert 0.0 <= curve.auc <= 1.0
        assert curve.fractions[0] == 0.0 and curve.fractions[-1] == 1.0
        assert curve.scores.shape == (11,)


def test_curves_start_and_end_at_the_image_and_its_baseline() -> None:
    image = scene()
    order = saliency_order(map_on(PATCH))
    deletion = sweep_curve("deletion", image, order, patch_brightness, steps=5)
    insertion = sweep_curve("insertion", image, order, patch_brightness, steps=5)
    intact = patch_brightness(image[None])[0]
    assert deletion.scores[0] == pytest.approx(intact)
    assert deletion.scores[-1] == pytest.approx(patch_brightness(mean_colour(image)[None])[0])
    assert insertion.scores[0] == pytest.approx(patch_brightness(blurred(image)[None])[0])
    assert insertion.scores[-1] == pytest.approx(intact)


def test_inputs_are_not_mutated() -> None:
    image, saliency = scene(), map_on(PATCH)
    image_copy, saliency_copy = image.copy(), saliency.copy()
    faithfulness(image, saliency, patch_brightness, steps=5)
    mask_region(image, saliency)
    counterfactual(image, saliency, patch_brightness)
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(saliency, saliency_copy)


def test_orders_are_permutations_and_random_order_is_seeded() -> None:
    n = SIZE * SIZE
    order = saliency_order(map_on(PATCH))
    assert sorted(order.tolist()) == list(range(n))
    assert set(order[:144].tolist()) == set(np.flatnonzero(map_on(PATCH).ravel()).tolist())
    np.testing.assert_array_equal(random_order(n, seed=3), random_order(n, seed=3))
    assert not np.array_equal(random_order(n, seed=3), random_order(n, seed=4))


def test_blur_keeps_a_flat_image_and_smooths_an_edge() -> None:
    flat = np.full((20, 30, 3), 90, dtype=np.uint8)
    np.testing.assert_array_equal(blurred(flat), flat)
    edge = np.zeros((20, 30, 3), dtype=np.uint8)
    edge[:, 15:] = 255
    smooth = blurred(edge, radius=3)
    assert 0 < smooth[10, 14, 0] < 255 and 0 < smooth[10, 15, 0] < 255
    assert smooth[10, 0, 0] == 0 and smooth[10, 29, 0] == 255


def test_evidence_mask_from_a_box_and_from_a_heat_map() -> None:
    box_mask = evidence_mask((0.25, 0.5, 0.75, 1.0), (10, 20))
    assert box_mask.sum() == 5 * 10 and box_mask[5:, 5:15].all()
    heat = np.zeros((10, 20))
    heat[2:4, 3:6] = 1.0
    heat[6, 6] = 0.4  # below half the peak: not evidence
    np.testing.assert_array_equal(evidence_mask(heat, (10, 20)), heat >= 0.5)
    assert not evidence_mask(np.zeros((10, 20)), (10, 20)).any()


def test_masking_the_evidence_drops_the_score_and_masking_elsewhere_does_not() -> None:
    image = scene()
    before, after = counterfactual(image, map_on(PATCH), patch_brightness)
    assert before == pytest.approx(250 / 255) and after < 0.3
    before, after = counterfactual(image, map_on(ELSEWHERE), patch_brightness)
    assert after == pytest.approx(before)


def test_masking_a_box_fills_it_with_the_mean_colour() -> None:
    image = scene()
    masked = mask_region(image, (26 / SIZE, 8 / SIZE, 38 / SIZE, 20 / SIZE))
    np.testing.assert_array_equal(masked[PATCH], mean_colour(image)[PATCH])
    np.testing.assert_array_equal(masked[ELSEWHERE], image[ELSEWHERE])


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        faithfulness(scene(), np.zeros((5, 5)), patch_brightness)
    with pytest.raises(ValueError):
        sweep_curve(
            "deletion", scene().astype(np.float32), np.arange(SIZE * SIZE), patch_brightness
        )
    with pytest.raises(ValueError):
        sweep_curve("deletion", scene(), np.arange(10), patch_brightness)
    with pytest.raises(ValueError, match="kind"):
        sweep_curve("erosion", scene(), np.arange(SIZE * SIZE), patch_brightness)


def elsewhere_brightness(batch: np.ndarray) -> np.ndarray:
    """A second synthetic class: the mean brightness of the other region."""
    return batch[:, ELSEWHERE[0], ELSEWHERE[1], :].mean(axis=(1, 2, 3)) / 255.0


@pytest.mark.parametrize("steps", [1, 2, 10])
@pytest.mark.parametrize("fill", ["mean", "blur"])
def test_several_maps_at_once_give_each_map_its_own_curves(steps: int, fill: str) -> None:
    image = scene()
    maps = [map_on(PATCH), map_on(ELSEWHERE), map_on(PATCH) + 0.5 * map_on(ELSEWHERE)]
    classes = [patch_brightness, elsewhere_brightness, patch_brightness]
    sent: list[int] = []

    def both(batch: np.ndarray) -> np.ndarray:
        sent.append(len(batch))
        return np.stack([f(batch) for f in classes], axis=1)

    shared = faithfulness_of_maps(image, maps, both, steps=steps, batch_size=7, deletion_fill=fill)
    for saliency, f, got in zip(maps, classes, shared, strict=True):
        alone = faithfulness(image, saliency, f, steps=steps, deletion_fill=fill)
        for name in ("deletion", "insertion", "random_deletion", "random_insertion"):
            np.testing.assert_allclose(getattr(got, name).scores, getattr(alone, name).scores)
            np.testing.assert_allclose(getattr(got, name).fractions, getattr(alone, name).fractions)
    # the shared images once: intact, the two baselines, the inner steps of 4 orders x 2 sweeps
    assert sum(sent) == 3 + 2 * (steps - 1) * (len(maps) + 1)
    assert max(sent) <= 7


def test_several_maps_reuse_the_intact_scores_given() -> None:
    image = scene()
    sent: list[np.ndarray] = []

    def score(batch: np.ndarray) -> np.ndarray:
        sent.extend(batch)
        return patch_brightness(batch)[:, None]

    known = patch_brightness(image[None])
    got = faithfulness_of_maps(image, [map_on(PATCH)], score, steps=5, intact=known)[0]
    alone = faithfulness(image, map_on(PATCH), patch_brightness, steps=5)
    np.testing.assert_allclose(got.deletion.scores, alone.deletion.scores)
    np.testing.assert_allclose(got.insertion.scores, alone.insertion.scores)
    assert not any(np.array_equal(b, image) for b in sent)  # the intact image is not re-scored
    assert faithfulness_of_maps(image, [], score) == []
    with pytest.raises(ValueError, match="columns"):
        faithfulness_of_maps(image, [map_on(PATCH)] * 2, score, steps=3)
