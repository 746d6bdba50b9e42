from __future__ import annotations

import numpy as np
import pytest
import torch
from glassbox.nn.mobilenet_v2 import CAM_TOP_K, MobileNetV2

DOG_BREEDS = range(151, 269)  # ImageNet-1k dog classes in torchvision's order
BALD_EAGLE = 22


def test_torchvision_state_dict_loads_strictly_into_the_plain_torch_model(mobilenet_weights):
    state = torch.load(mobilenet_weights, map_location="cpu", weights_only=True)
    model = MobileNetV2()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(model.state_dict()) == set(state)


def test_outputs_have_the_contract_shapes_and_dtypes(concept_net, photo):
    out = concept_net.run(np.stack([photo("dog.jpg"), photo("eagle.jpg")]))
    assert out.logits.shape == (2, 1000) and out.logits.dtype == np.float32
    assert out.pooled.shape == (2, 1280) and out.pooled.dtype == np.float32
    assert out.cam_indices.shape == (2, CAM_TOP_K) and out.cam_indices.dtype == np.int32
    assert out.cams.shape == (2, CAM_TOP_K, 7, 7) and out.cams.dtype == np.float32
    assert out.cam_bias.shape == (2, CAM_TOP_K) and out.cam_bias.dtype == np.float32


def test_dog_photo_top1_is_a_dog_breed_and_eagle_photo_a_bald_eagle(concept_net, photo):
    out = concept_net.run(np.stack([photo("dog.jpg"), photo("eagle.jpg")]))
    assert int(out.logits[0].argmax()) in DOG_BREEDS
    assert int(out.logits[1].argmax()) == BALD_EAGLE


def test_cam_indices_are_the_top_logits_in_descending_order(concept_net, photo):
    out = concept_net.run(photo("dog.jpg")[None])
    expected = np.argsort(-out.logits[0], kind="stable")[:CAM_TOP_K]
    assert set(out.cam_indices[0]) == set(expected)
    assert np.all(np.diff(out.logits[0][out.cam_indices[0]]) <= 0)


def test_pooled_features_are_the_mean_of_post_relu6_feature_maps(concept_net, photo):
    out = concept_net.run(photo("horses.jpg")[None])
    assert out.pooled.min() >= 0 and out.pooled.max() <= 6
    linear = concept_net.backbone.classifier[1]
    with torch.inference_mode():
        relogits = linear(torch.from_numpy(out.pooled)).numpy()
    np.testing.assert_allclose(relogits, out.logits, atol=1e-4)


def test_cam_mean_plus_bias_equals_the_logit_for_all_1000_classes(mobilenet_weights, photo):
    from glassbox.nn.mobilenet_v2 import load_concept_net

    net = load_concept_net(mobilenet_weights, top_k=1000)
    out = net.run(np.stack([photo("dog.jpg"), photo("giraffe.jpg")]))
    logits_of_cams = out.cams.mean(axis=(2, 3)) + out.cam_bias
    expected = np.take_along_axis(out.logits, out.cam_indices.astype(np.int64), axis=1)
    assert np.abs(logits_of_cams - expected).max() <= 1e-4
    assert sorted(out.cam_indices[0].tolist()) == list(range(1000))


def test_batching_does_not_change_results_nor_mutate_the_input(concept_net, photo):
    images = np.stack([photo("dog.jpg"), photo("kite.jpg"), photo("person.jpg")])
    before = images.copy()
    batched = concept_net.run(images)
    single = concept_net.run(images[1:2])
    np.testing.assert_array_equal(images, before)  # input not mutated
    np.testing.assert_allclose(batched.logits[1], single.logits[0], atol=1e-4)


@pytest.mark.parametrize("bad", [np.zeros((224, 224, 3), np.uint8), np.zeros((1, 224, 224, 3))])
def test_run_rejects_unbatched_or_non_uint8_input(concept_net, bad):
    with pytest.raises(ValueError):
        concept_net.run(bad)


def test_explicit_cpu_device_gives_the_same_outputs_as_the_default(
    mobilenet_weights, concept_net, photo
):
    from glassbox.nn.mobilenet_v2 import load_concept_net

    net = load_concept_net(mobilenet_weights, device="cpu")
    assert net.device == torch.device("cpu")
    images = np.stack([photo("dog.jpg"), photo("eagle.jpg")])
    default, explicit = concept_net.run(images), net.run(images)
    for a, b in zip(default, explicit, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_frozen_network_gives_the_eager_results_and_exact_cams(
    mobilenet_weights, concept_net, photo
):
    from glassbox.nn.mobilenet_v2 import load_concept_net

    frozen = load_concept_net(mobilenet_weights, frozen=True)
    assert list(frozen.state_dict()) == list(concept_net.state_dict())  # not a submodule
    for n in (1, 3, 7):  # batch sizes other than the traced one
        images = np.stack([photo("dog.jpg"), photo("kite.jpg"), photo("eagle.jpg")] * 3)[:n]
        eager, fast = concept_net.run(images), frozen.run(images)
        np.testing.assert_array_equal(eager.cam_indices, fast.cam_indices)
        np.testing.assert_allclose(fast.logits, eager.logits, atol=1e-3)
        np.testing.assert_allclose(fast.cams, eager.cams, atol=1e-3)
        picked = np.take_along_axis(fast.logits, fast.cam_indices.astype(np.int64), axis=1)
        np.testing.assert_allclose(fast.cams.mean(axis=(2, 3)) + fast.cam_bias, picked, atol=1e-4)
