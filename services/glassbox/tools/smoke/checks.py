"""One smoke check per model: send known inputs to the served model, compute the same with
``glassbox.nn`` on the same pixels, and report each comparison.

- ``image_concepts``: darknet's dog photo, against MobileNetV2 from the model repository;
- ``text_embedding``: a few sentences, against MiniLM from the model repository, and a
  non-UTF-8 request refused beside a good one;
- ``ocr``: "GLASSBOX 2026" rendered with Pillow, against ``glassbox.nn.ocr``;
- ``nsfw_detector``: the dog photo (safe), against ``glassbox.nn.nsfw``;
- ``object_detection``: the dog photo (a bicycle, a dog, a car), against ``glassbox.nn.ssd``
  with the repository's graph, and a blank grey image (nothing);
- ``shot_boundaries``: a synthetic clip with one hard cut, in TransNetV2's windows, against
  ``glassbox.nn.transnet`` with the repository's weights, and a window of the wrong length
  refused beside a good one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from glassbox.concepts import ConceptBank
from glassbox.evidence_types import to_fractions
from glassbox.media.imaging import decode_rgb, model_input
from glassbox.tools.smoke.images import DOG_PHOTO, SMOKE_TEXT, cut_clip, load_rgb, render_text
from glassbox.video.windows import stitch, windows

DOG_CLASSES = range(151, 269)  # ImageNet-1k's dog breeds, torchvision order
IMAGE_OUTPUTS = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A dog runs across the grass.",
    "Quarterly revenue fell short of expectations.",
]
LOGIT_ATOL = 1e-3
COSINE_MIN = 0.999
EXPOSED_MAX = 0.5  # a safe photo may have no *_EXPOSED detection scoring this or more
BOX_ATOL = 0.01  # served boxes (fractions) vs local boxes
SCORE_ATOL = 1e-3
CUT_FRAME = 60  # cut_clip()'s first frame of the second shot
CUT_TOLERANCE = 2  # frames
PROB_ATOL = 1e-4  # served cut probabilities vs local
DOG_PHOTO_OBJECTS = ("bicycle", "dog", "car")  # each found at 0.5 or more
OBJECT_MIN = 0.5


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, ok: bool, what: str) -> None:
        self.failures += not ok
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")


def _infer(client, model: str, batch: np.ndarray, names: tuple[str, ...]):
    """The served outputs ``names`` for a uint8 image batch, and the call's milliseconds."""
    inp = httpclient.InferInput("IMAGE", list(batch.shape), "UINT8")
    inp.set_data_from_numpy(batch)
    outs = [httpclient.InferRequestedOutput(name) for name in names]
    t0 = time.perf_counter()
    result = client.infer(model, [inp], outputs=outs)
    elapsed = (time.perf_counter() - t0) * 1000
    return {name: result.as_numpy(name) for name in names}, elapsed


def _infer_one(client, model: str, image: np.ndarray, names: tuple[str, ...]):
    served, elapsed = _infer(client, model, image[None], names)
    return {name: array[0] for name, array in served.items()}, elapsed


def _fractions(box, width: int, height: int) -> np.ndarray:
    return np.array(to_fractions(box, width, height), dtype=np.float32)


def check_image_concepts(client, repo: Path, report: Report) -> None:
    from glassbox.nn.mobilenet_v2 import load_concept_net

    print("image_concepts")
    image = model_input(decode_rgb(DOG_PHOTO.read_bytes()), 224)[None]
    served, elapsed = _infer(client, "image_concepts", image, IMAGE_OUTPUTS)
    local = load_concept_net(repo / "image_concepts" / "1" / "mobilenet_v2.pth").run(image)

    logits = served["CONCEPT_LOGITS"][0]
    top1 = int(logits.argmax())
    bank_path = repo / "image_concepts" / "1" / "concept_bank.npz"
    name = ConceptBank.load(bank_path).name(top1) if bank_path.is_file() else "?"
    diff = float(np.abs(logits - local.logits[0]).max())
    print(f"  {DOG_PHOTO.name}: top-1 {top1} {name!r} (logit {logits[top1]:.2f}), {elapsed:.0f} ms")
    report.check(diff <= LOGIT_ATOL, f"logits match the local model (max |diff| {diff:.2e})")
    report.check(top1 == int(local.logits[0].argmax()), "top-1 identical to the local model")
    report.check(top1 in DOG_CLASSES, "top-1 is a dog breed")
    idx = served["CAM_INDICES"][0]
    report.check(
        np.array_equal(idx, local.cam_indices[0]) and np.all(np.diff(logits[idx]) <= 0),
        "CAM_INDICES are the local top-16, in descending logit order",
    )
    exact = float(
        np.abs(served["CAMS"][0].mean(axis=(1, 2)) + served["CAM_BIAS"][0] - logits[idx]).max()
    )
    report.check(exact <= 1e-4, f"CAM mean + bias == logit (max |diff| {exact:.2e})")
    shapes = {k: v.shape[1:] for k, v in served.items()}
    expected = {
        "CONCEPT_LOGITS": (1000,),
        "POOLED_FEATURES": (1280,),
        "CAM_INDICES": (16,),
        "CAMS": (16, 7, 7),
        "CAM_BIAS": (16,),
    }
    report.check(shapes == expected, f"output shapes {shapes}")


def check_text_embedding(client, repo: Path, report: Report) -> None:
    from glassbox.nn.text_encoder import TextEncoder

    print("text_embedding")
    texts = np.array([[s.encode()] for s in SENTENCES], dtype=np.object_)
    inp = httpclient.InferInput("TEXT", list(texts.shape), "BYTES")
    inp.set_data_from_numpy(texts)
    t0 = time.perf_counter()
    served = client.infer("text_embedding", [inp]).as_numpy("EMBEDDING")
    elapsed = (time.perf_counter() - t0) * 1000
    local = TextEncoder(repo / "text_embedding" / "1" / "encoder").encode(SENTENCES)
    cosine = (served * local).sum(axis=1) / np.linalg.norm(served, axis=1)
    print(f"  {len(SENTENCES)} sentences, {served.shape[1]}-d, {elapsed:.0f} ms")
    report.check(
        cosine.min() >= COSINE_MIN,
        f"cosine to the local encoder >= {COSINE_MIN} (min {cosine.min():.6f})",
    )
    report.check(bool(np.allclose(np.linalg.norm(served, axis=1), 1, atol=1e-4)), "unit length")
    para, unrelated = served[0] @ served[1], served[0] @ served[3]
    report.check(para > unrelated, f"paraphrase {para:.3f} > unrelated {unrelated:.3f}")

    bad = httpclient.InferInput("TEXT", [1, 1], "BYTES")
    bad.set_data_from_numpy(np.array([[b"\xff\xfe not utf-8"]], dtype=np.object_))
    good = httpclient.InferInput("TEXT", [1, 1], "BYTES")
    good.set_data_from_numpy(texts[:1])
    pending = [client.async_infer("text_embedding", [x]) for x in (bad, good)]
    try:
        pending[0].get_result()
        rejected = False
    except InferenceServerException:
        rejected = True
    report.check(rejected, "a non-UTF-8 TEXT gets its own error")
    again = pending[1].get_result().as_numpy("EMBEDDING")
    report.check(float(again[0] @ served[0]) >= COSINE_MIN, "the request beside it still succeeds")


def check_ocr(client, repo: Path, report: Report) -> None:
    from glassbox.nn.ocr import TextReader

    print("ocr")
    image = render_text()
    height, width = image.shape[:2]
    served, elapsed = _infer_one(client, "ocr", image, ("COUNT", "TEXTS", "BOXES", "SCORES"))
    n = int(served["COUNT"][0])
    texts = [t.decode() for t in served["TEXTS"][:n]]
    local = TextReader().read(image)
    print(f"  rendered {SMOKE_TEXT!r}: read {texts}, {elapsed:.0f} ms")
    report.check(any(SMOKE_TEXT.lower() in t.lower() for t in texts), f"{SMOKE_TEXT!r} is read")
    report.check(texts == [line.text for line in local], "texts identical to the local reader")
    if n == len(local) and n > 0:
        want = np.stack([_fractions(line.box, width, height) for line in local])
        diff = float(np.abs(served["BOXES"][:n] - want).max())
        report.check(diff <= BOX_ATOL, f"boxes match the local reader (max |diff| {diff:.2e})")
        sdiff = float(np.abs(served["SCORES"][:n] - [line.score for line in local]).max())
        report.check(sdiff <= SCORE_ATOL, f"scores match the local reader (max |diff| {sdiff:.1e})")
    report.check(
        served["TEXTS"].shape == (64,) and served["BOXES"].shape == (64, 4),
        f"padded to 64 lines (TEXTS {served['TEXTS'].shape}, BOXES {served['BOXES'].shape})",
    )
    blank, _ = _infer_one(client, "ocr", np.full((200, 300, 3), 255, np.uint8), ("COUNT",))
    report.check(int(blank["COUNT"][0]) == 0, "a blank image has no text")


def check_nsfw_detector(client, repo: Path, report: Report) -> None:
    from glassbox.nn.nsfw import NsfwDetector

    print("nsfw_detector")
    image = load_rgb(DOG_PHOTO)
    height, width = image.shape[:2]
    outputs = ("COUNT", "LABELS", "BOXES", "SCORES")
    served, elapsed = _infer_one(client, "nsfw_detector", image, outputs)
    n = int(served["COUNT"][0])
    labels = [t.decode() for t in served["LABELS"][:n]]
    scores = served["SCORES"][:n]
    local = NsfwDetector().detect(image)
    found = ", ".join(f"{lab} {s:.2f}" for lab, s in zip(labels, scores, strict=True))
    print(f"  {DOG_PHOTO.name}: {found or 'nothing'}, {elapsed:.0f} ms")
    exposed = [s for lab, s in zip(labels, scores, strict=True) if lab.endswith("_EXPOSED")]
    report.check(
        max(exposed, default=0.0) < EXPOSED_MAX,
        f"no *_EXPOSED label scores >= {EXPOSED_MAX} on a safe photo",
    )
    report.check(labels == [d.label for d in local], "labels identical to the local detector")
    if n == len(local) and n > 0:
        sdiff = float(np.abs(scores - [d.score for d in local]).max())
        report.check(sdiff <= SCORE_ATOL, f"scores match the local detector ({sdiff:.1e})")
        want = np.stack([_fractions(d.box, width, height) for d in local])
        diff = float(np.abs(served["BOXES"][:n] - want).max())
        report.check(diff <= BOX_ATOL, f"boxes match the local detector ({diff:.2e})")
    report.check(served["LABELS"].shape == (32,), f"padded to 32 ({served['LABELS'].shape})")


def check_object_detection(client, repo: Path, report: Report) -> None:
    from glassbox.detection.coco_labels import COCO_LABELS
    from glassbox.nn.ssd import ObjectDetector

    print("object_detection")
    image = load_rgb(DOG_PHOTO)
    height, width = image.shape[:2]
    outputs = ("COUNT", "CLASS_IDS", "BOXES", "SCORES")
    served, elapsed = _infer_one(client, "object_detection", image, outputs)
    n = int(served["COUNT"][0])
    ids = [int(i) for i in served["CLASS_IDS"][:n]]
    scores = served["SCORES"][:n]
    local = ObjectDetector(repo / "object_detection" / "1").detect(image)
    found = ", ".join(f"{COCO_LABELS.get(i, i)} {s:.2f}" for i, s in zip(ids, scores, strict=True))
    print(f"  {DOG_PHOTO.name}: {found or 'nothing'}, {elapsed:.0f} ms")
    confident = {COCO_LABELS.get(i) for i, s in zip(ids, scores, strict=True) if s >= OBJECT_MIN}
    report.check(
        set(DOG_PHOTO_OBJECTS) <= confident,
        f"{', '.join(DOG_PHOTO_OBJECTS)} found at >= {OBJECT_MIN}",
    )
    report.check(ids == [d.class_id for d in local], "class ids identical to the local detector")
    if n == len(local) and n > 0:
        sdiff = float(np.abs(scores - [d.score for d in local]).max())
        report.check(sdiff <= SCORE_ATOL, f"scores match the local detector ({sdiff:.1e})")
        want = np.stack([_fractions(d.box, width, height) for d in local])
        diff = float(np.abs(served["BOXES"][:n] - want).max())
        report.check(diff <= BOX_ATOL, f"boxes match the local detector ({diff:.2e})")
    report.check(
        served["CLASS_IDS"].shape == (100,) and served["BOXES"].shape == (100, 4),
        f"padded to 100 (CLASS_IDS {served['CLASS_IDS'].shape})",
    )
    grey = np.full((240, 320, 3), 128, np.uint8)
    blank, _ = _infer_one(client, "object_detection", grey, ("COUNT", "SCORES"))
    top = float(blank["SCORES"][: int(blank["COUNT"][0])].max(initial=0.0))
    report.check(top < OBJECT_MIN, f"a blank grey image has nothing at >= {OBJECT_MIN} ({top:.2f})")


def _infer_windows(client, batch: np.ndarray):
    inp = httpclient.InferInput("FRAMES", list(batch.shape), "UINT8")
    inp.set_data_from_numpy(np.ascontiguousarray(batch))
    return inp, [httpclient.InferRequestedOutput("CUT_PROBABILITIES")]


def check_shot_boundaries(client, repo: Path, report: Report) -> None:
    from glassbox.nn.transnet import WEIGHTS_FILE, ShotNet

    print("shot_boundaries")
    clip = cut_clip(CUT_FRAME, 60)
    batch, plan = windows(clip)
    batch = np.ascontiguousarray(batch)
    inp, outs = _infer_windows(client, batch)
    t0 = time.perf_counter()
    served = client.infer("shot_boundaries", [inp], outputs=outs).as_numpy("CUT_PROBABILITIES")
    elapsed = (time.perf_counter() - t0) * 1000
    report.check(served.shape == (plan.windows, 100), f"one row of 100 a window {served.shape}")
    if served.shape != (plan.windows, 100):
        return
    local = ShotNet(repo / "shot_boundaries" / "1" / WEIGHTS_FILE).run(batch)
    diff = float(np.abs(served - local).max())
    probs = stitch(plan, served)
    peak = int(probs.argmax())
    away = np.abs(np.arange(len(probs)) - CUT_FRAME) > CUT_TOLERANCE + 1
    print(
        f"  {len(clip)} frames, {plan.windows} windows: peak {probs[peak]:.3f} at frame {peak}, "
        f"{elapsed:.0f} ms ({elapsed / plan.windows:.0f} ms a window)"
    )
    report.check(diff <= PROB_ATOL, f"probabilities match the local network ({diff:.1e})")
    report.check(
        abs(peak - CUT_FRAME) <= CUT_TOLERANCE and probs[peak] > 0.5,
        f"the hard cut before frame {CUT_FRAME} peaks within {CUT_TOLERANCE} frames, above 0.5",
    )
    report.check(
        float(probs[away].max()) < 0.5, f"no other frame above 0.5 (max {probs[away].max():.3f})"
    )

    bad, bad_outs = _infer_windows(client, batch[:1, :50])
    good, good_outs = _infer_windows(client, batch[:1])
    pending = [
        client.async_infer("shot_boundaries", [bad], outputs=bad_outs),
        client.async_infer("shot_boundaries", [good], outputs=good_outs),
    ]
    try:
        pending[0].get_result()
        rejected = False
    except InferenceServerException:
        rejected = True
    report.check(rejected, "a window of 50 frames gets its own error")
    again = pending[1].get_result().as_numpy("CUT_PROBABILITIES")
    same = float(np.abs(again[0] - served[0]).max()) <= PROB_ATOL
    report.check(same, "the request beside it still succeeds")


CHECKS: dict[str, Callable[..., None]] = {
    "image_concepts": check_image_concepts,
    "text_embedding": check_text_embedding,
    "ocr": check_ocr,
    "nsfw_detector": check_nsfw_detector,
    "object_detection": check_object_detection,
    "shot_boundaries": check_shot_boundaries,
}
