"""Model-randomisation sanity check for the CAMs (Adebayo et al. 2018, "Sanity Checks for
Saliency Maps"): a map that explains the *model* must change when the model's weights are
destroyed, and must not change under an exact copy of them.

The class is fixed to the trained model's top-1, so the randomised model's map answers the
same question ("where is the evidence for class c?") with random weights.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from glassbox.explain.cam import upsample
from glassbox.nn.mobilenet_v2 import NUM_CLASSES, ConceptNet, load_mobilenet_v2
from scipy.stats import spearmanr
from torch import nn

SIZE = 224
PHOTOS = ("dog.jpg", "eagle.jpg")


@pytest.fixture(scope="module")
def trained(mobilenet_weights):
    return load_mobilenet_v2(mobilenet_weights)


def cam_of(backbone: nn.Module, image: np.ndarray, class_id: int) -> np.ndarray:
    """The upsampled CAM of ``class_id`` under ``backbone``."""
    out = ConceptNet(backbone, top_k=NUM_CLASSES).eval().run(image[None])
    k = int(np.flatnonzero(out.cam_indices[0] == class_id)[0])
    return upsample(out.cams[0, k], (SIZE, SIZE))


def reinitialised(trained: nn.Module, part: str) -> nn.Module:
    """A copy of the network with ``part`` (a module path) re-initialised at random, with
    torchvision's initialisation scheme (Kaiming convs, unit BatchNorm, N(0, 0.01) linear)."""
    torch.manual_seed(0)
    model = copy.deepcopy(trained)
    for module in model.get_submodule(part).modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)
    return model.eval()


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return 0.0 if np.isnan(rho) else float(rho)


def top1(trained: nn.Module, image: np.ndarray) -> int:
    return int(ConceptNet(trained).eval().run(image[None]).cam_indices[0, 0])


@pytest.mark.parametrize("name", PHOTOS)
def test_cams_are_stable_under_a_copy_of_the_trained_weights(trained, photo, name) -> None:
    image = photo(name)
    c = top1(trained, image)
    original, copied = cam_of(trained, image, c), cam_of(copy.deepcopy(trained), image, c)
    assert rank_correlation(original, copied) > 0.999
    np.testing.assert_allclose(original, copied, atol=1e-5)


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize(
    "part",
    ["classifier", "features.17", "features.18"],
    ids=["classifier", "last-inverted-residual-block", "last-1x1-conv-block"],
)
def test_cams_change_when_weights_are_randomised(trained, photo, name, part) -> None:
    image = photo(name)
    c = top1(trained, image)
    original = cam_of(trained, image, c)
    randomised = cam_of(reinitialised(trained, part), image, c)
    assert rank_correlation(original, randomised) < 0.5
    assert np.abs(original - randomised).mean() > 0.15  # maps are in [0, 1]
