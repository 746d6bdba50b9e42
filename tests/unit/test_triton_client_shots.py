"""``InferenceClient.cut_probabilities`` without a server: input checks, the windows it sends
(several requests of at most ``SHOT_WINDOWS_PER_REQUEST``), the stitching, and the client's
two kinds of failure."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from glassbox.clients.triton import (
    SHOT_WINDOWS_PER_REQUEST,
    InferenceClient,
    InferenceError,
    InferenceUnavailable,
)
from glassbox.video.windows import WINDOW


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clip(n: int) -> np.ndarray:
    """Frames whose first pixel spells their index (as in tests/unit/test_video_windows.py)."""
    frames = np.zeros((n, 27, 48, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(n) % 256
    frames[:, 0, 0, 1] = np.arange(n) // 256
    return frames


class FakeResult:
    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def as_numpy(self, name: str):
        return self.arrays.get(name)


class FakeTriton:
    """Answers shot_boundaries requests with each slot's frame number (or a given array)."""

    def __init__(self, answer=None):
        self.requests: list[tuple[str, str, tuple[int, ...]]] = []
        self.answer = answer

    def infer(self, model, inputs, outputs):
        frames = inputs[0]
        shape = tuple(frames.shape())
        self.requests.append((model, frames.name(), shape))
        if self.answer is not None:
            return FakeResult({"CUT_PROBABILITIES": self.answer})
        # the tensor travels as raw bytes: decode the frame numbers back from them
        raw = np.frombuffer(frames._get_binary_data(), np.uint8).reshape(shape)
        ids = raw[..., 0, 0, 0].astype(np.float32) + 256 * raw[..., 0, 0, 1].astype(np.float32)
        return FakeResult({"CUT_PROBABILITIES": ids})


@pytest.fixture
def fake(monkeypatch):
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    server = FakeTriton()
    monkeypatch.setattr(client, "_client", lambda: server)
    return client, server


@pytest.mark.parametrize("n", [1, 50, 51, 199, 200, 201, 437])
def test_the_clip_goes_in_window_batches_and_comes_back_one_value_a_frame(fake, n):
    client, server = fake
    probs = client.cut_probabilities(clip(n))
    assert probs.shape == (n,) and probs.dtype == np.float32
    np.testing.assert_array_equal(probs, np.arange(n))  # each frame answered for itself
    windows = -(-n // 50)
    sizes = [shape[0] for _model, _name, shape in server.requests]
    assert sum(sizes) == windows and max(sizes) <= SHOT_WINDOWS_PER_REQUEST
    assert len(sizes) == -(-windows // SHOT_WINDOWS_PER_REQUEST)
    assert {(m, name, s[1:]) for m, name, s in server.requests} == {
        ("shot_boundaries", "FRAMES", (WINDOW, 27, 48, 3))
    }


def test_an_empty_clip_needs_no_round_trip(fake):
    client, server = fake
    assert client.cut_probabilities(np.zeros((0, 27, 48, 3), np.uint8)).shape == (0,)
    assert server.requests == []


@pytest.mark.parametrize(
    "frames",
    [np.zeros((10, 27, 48, 3), np.float32), np.zeros((10, 54, 96, 3), np.uint8), None],
)
def test_frames_of_the_wrong_kind_are_a_request_error_without_a_round_trip(fake, frames):
    client, server = fake
    with pytest.raises(InferenceError, match="27, 48, 3"):
        client.cut_probabilities(frames)
    assert server.requests == []


def test_an_answer_of_the_wrong_shape_is_a_request_error(fake):
    client, server = fake
    server.answer = np.zeros((1, 99), np.float32)
    with pytest.raises(InferenceError, match="shot_boundaries answered"):
        client.cut_probabilities(clip(60))


def test_an_unreachable_server_is_retryable():
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    with pytest.raises(InferenceUnavailable):
        client.cut_probabilities(clip(10))
