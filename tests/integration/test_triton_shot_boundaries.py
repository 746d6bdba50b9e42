"""InferenceClient.cut_probabilities against the real ``shot_boundaries`` (TransNetV2) in Triton.

Videos: Debian ``opencv-doc``'s ``Megamind.avi`` (24 fps, cuts at 4.13 s, 6.46 s and 8.38 s:
ffmpeg's ``scdet``, matching the encoder's I-frames) and ``vtest.avi`` (one static camera, no
cut), decoded here with PyAV to every frame at 48 × 27 (bicubic, as TransNetV2's own ffmpeg
call). TransNetV2 marks the last frame of the outgoing shot, so a cut's time is that of the
frame after the peak: the first frame of the new shot.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from glassbox.clients.triton import InferenceClient, InferenceError
from glassbox.tools.smoke.images import cut_clip

pytestmark = pytest.mark.integration

VIDEOS = Path("/usr/share/doc/opencv-doc/examples/data")
MEGAMIND_CUTS_S = (4.13, 6.46, 8.38)
THRESHOLD = 0.5
TOLERANCE_FRAMES = 2


def small_frames(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Every frame of a sample video as uint8 [n, 27, 48, 3], each frame's time (s), the fps."""
    import av  # the app's environment has PyAV

    path = VIDEOS / name
    if not path.is_file():
        pytest.fail(f"{path} missing: run `infra/bin/setup --test` (Debian package opencv-doc)")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames, times = [], []
        for frame in container.decode(stream):
            small = frame.to_ndarray(width=48, height=27, format="rgb24", interpolation="BICUBIC")
            frames.append(small)
            times.append(float(frame.time))
        fps = float(stream.average_rate)
    return np.stack(frames), np.array(times), fps


def transitions(probs: np.ndarray) -> list[tuple[int, int]]:
    """(first frame, peak frame) of each run of frames above the threshold."""
    above = np.flatnonzero(probs > THRESHOLD)
    runs = np.split(above, np.flatnonzero(np.diff(above) > 1) + 1) if above.size else []
    return [(int(run[0]), int(run[np.argmax(probs[run])])) for run in runs]


def test_the_model_is_ready(inference: InferenceClient) -> None:
    assert inference.model_ready("shot_boundaries")


def test_a_synthetic_hard_cut_is_found_on_its_frame(inference: InferenceClient) -> None:
    probs = inference.cut_probabilities(cut_clip(60, 60))
    assert probs.shape == (120,) and probs.dtype == np.float32
    assert transitions(probs) == [(59, 59)]  # the last frame before the cut at frame 60
    assert float(np.delete(probs, [58, 59, 60, 61]).max()) < 0.1


def test_megamind_cuts_are_found_within_two_frames(inference: InferenceClient) -> None:
    frames, times, fps = small_frames("Megamind.avi")
    assert round(fps) == 24 and len(frames) == 270  # 6 windows, 2 requests
    probs = inference.cut_probabilities(frames)
    assert probs.shape == (len(frames),)
    found = transitions(probs)
    # the file opens on one black frame before the picture: TransNetV2 rightly marks it
    assert frames[0].mean() < 5 and found[0] == (0, 0), found
    cuts_s = [times[peak + 1] for _first, peak in found[1:]]
    assert len(cuts_s) == len(MEGAMIND_CUTS_S), (found, cuts_s)
    for got, want in zip(cuts_s, MEGAMIND_CUTS_S, strict=True):
        assert abs(got - want) <= TOLERANCE_FRAMES / fps, (cuts_s, MEGAMIND_CUTS_S)


def test_a_static_camera_has_no_cut(inference: InferenceClient) -> None:
    frames, _times, fps = small_frames("vtest.avi")
    assert round(fps) == 10 and len(frames) > 700
    probs = inference.cut_probabilities(frames)
    assert probs.shape == (len(frames),)
    assert float(probs.max()) <= THRESHOLD, (int(probs.argmax()), float(probs.max()))


def test_concurrent_clips_are_answered_each_their_own(inference: InferenceClient) -> None:
    """Two clients' windows may share one forward pass (dynamic batching): each still gets
    its own clip's answer."""
    cut, still = cut_clip(30, 20), cut_clip(50, 0)  # one window each
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(inference.cut_probabilities, clip) for clip in (cut, still)]
        got_cut, got_still = (job.result(timeout=120) for job in jobs)
    assert transitions(got_cut) == [(29, 29)]
    assert float(got_still.max()) < 0.1
    np.testing.assert_allclose(got_cut, inference.cut_probabilities(cut), atol=1e-5)


def test_frames_of_the_wrong_size_are_a_request_error(inference: InferenceClient) -> None:
    with pytest.raises(InferenceError):
        inference.cut_probabilities(np.zeros((10, 54, 96, 3), np.uint8))


def test_edited_clips_with_hard_cuts_and_a_cross_fade_are_cut_with_f1_at_least_0_9(
    inference: InferenceClient, samples
) -> None:
    """The clips tests/support/edited_clips.py renders from the sample photos (hard cuts and
    one 12-frame cross-fade each, at known frames): within two frames, F1 >= 0.9."""
    from glassbox.video import shots as shot_maths

    from tests.support.edited_clips import render_set

    matched = found_total = true_total = 0
    for frames, truth in render_set(sorted(samples.glob("*.jpg")), 4):
        last = inference.cut_probabilities(frames).astype(np.float64)
        # TransNetV2 marks the outgoing shot's last frame: the cut is the frame after it
        found = [c.frame for c in shot_maths.detect_cuts(np.concatenate(([0.0], last[:-1])))]
        score = shot_maths.f1_of_cuts(found, truth, tolerance_frames=2)
        matched, found_total, true_total = (
            matched + score.matched,
            found_total + len(found),
            true_total + len(truth),
        )
    precision, recall = matched / max(found_total, 1), matched / max(true_total, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    assert f1 >= 0.9, (precision, recall, matched, found_total, true_total)
