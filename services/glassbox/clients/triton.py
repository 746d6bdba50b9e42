"""Client for the Triton models ``image_concepts``, ``text_embedding``, ``ocr``,
``nsfw_detector``, ``object_detection`` and ``shot_boundaries`` (HTTP).

Nothing connects at import. The tritonclient object is created on first use, one per thread
(geventhttpclient connections must not be shared across threads), and ``reset()`` drops it,
e.g. in Celery's ``worker_process_init`` after a fork.

Failures are split by what the caller should do:

- :class:`InferenceUnavailable` — the server is down, slow, overloaded or the model is not
  loaded (yet): retry later.
- :class:`InferenceError` — the request itself was rejected (4xx, invalid argument): do not retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evidence_types import Detection, ObjectDetection, TextLine
from glassbox.video.windows import WINDOW, stitch, windows

if TYPE_CHECKING:
    from tritonclient.http import InferenceServerClient

IMAGE_MODEL = "image_concepts"
TEXT_MODEL = "text_embedding"
OCR_MODEL = "ocr"
NSFW_MODEL = "nsfw_detector"
SHOT_MODEL = "shot_boundaries"
OBJECT_MODEL = "object_detection"
IMAGE_MAX_BATCH = 16
OBJECT_MAX_BATCH = 8  # object_detection's max_batch_size
TEXT_MAX_BATCH = 64
# windows of 100 frames per shot_boundaries request: a window takes ~2 s on one CPU thread,
# so a request stays well inside the timeout even when the batcher merges two (max 8)
SHOT_WINDOWS_PER_REQUEST = 4
_IMAGE_OUTPUTS = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")
_OCR_OUTPUTS = ("COUNT", "TEXTS", "BOXES", "SCORES")
_NSFW_OUTPUTS = ("COUNT", "LABELS", "BOXES", "SCORES")
_OBJECT_OUTPUTS = ("COUNT", "CLASS_IDS", "BOXES", "SCORES")
# HTTP statuses that mean "try again later"; every other 4xx means the request is wrong.
_RETRYABLE_STATUS = {404, 408, 429}
_NOT_READY_HINTS = ("not ready", "unavailable", "unknown model", "no available version")

T = TypeVar("T")


class InferenceFailure(Exception):
    """Base of the errors this client raises."""


class InferenceUnavailable(InferenceFailure):
    """Triton cannot answer now (down, timeout, 5xx, model not ready). Retryable."""


class InferenceError(InferenceFailure):
    """Triton rejected the request (4xx, invalid argument). Not retryable."""


@dataclass(frozen=True)
class ConceptOutput:
    logits: np.ndarray  # float32 [n, 1000]
    pooled: np.ndarray  # float32 [n, 1280]
    cam_indices: np.ndarray  # int32 [n, 16], by descending logit
    cams: np.ndarray  # float32 [n, 16, 7, 7]
    cam_bias: np.ndarray  # float32 [n, 16]


class InferenceClient:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._local = threading.local()

    def reset(self) -> None:
        """Forget this thread's connection; the next call opens a new one."""
        self._local = threading.local()

    def analyze_images(self, batch: np.ndarray) -> ConceptOutput:
        """Run ``image_concepts`` on uint8 ``[n, 224, 224, 3]`` images (any n >= 1)."""
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[0] == 0 or batch.shape[3] != 3:
            raise InferenceError(
                f"expected uint8 [n, H, W, 3] with n >= 1, got {batch.dtype} {batch.shape}"
            )
        parts = [
            self._call(lambda chunk=chunk: self._infer_images(chunk))
            for chunk in _chunks(batch, IMAGE_MAX_BATCH)
        ]
        return ConceptOutput(
            *(np.concatenate([p[i] for p in parts]) for i in range(len(_IMAGE_OUTPUTS)))
        )

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Run ``text_embedding``: unit-length float32 ``[n, 384]``, one row per text."""
        if isinstance(texts, str):
            raise InferenceError("embed_texts takes a list of strings, not one string")
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        data = np.array([t.encode("utf-8") for t in texts], dtype=np.object_).reshape(-1, 1)
        return np.concatenate(
            [
                self._call(lambda chunk=chunk: self._infer_texts(chunk))
                for chunk in _chunks(data, TEXT_MAX_BATCH)
            ]
        )

    def read_text(self, image: np.ndarray) -> list[TextLine]:
        """Run ``ocr`` on one RGB uint8 ``[H, W, 3]`` image (any size): its lines of text in
        reading order, boxes as fractions of width/height (at most 64 lines)."""
        batch = _evidence_batch([image])
        rows = self._call(lambda: self._infer_evidence(OCR_MODEL, _OCR_OUTPUTS, batch))[0]
        return [TextLine(text=t, box=b, score=s) for t, b, s in rows]

    def detect_nsfw(self, image: np.ndarray) -> list[Detection]:
        """Run ``nsfw_detector`` on one RGB uint8 ``[H, W, 3]`` image (any size): NudeNet
        detections scoring ≥ 0.2 by descending score, boxes as fractions (at most 32)."""
        batch = _evidence_batch([image])
        rows = self._call(lambda: self._infer_evidence(NSFW_MODEL, _NSFW_OUTPUTS, batch))[0]
        return [Detection(label=t, box=b, score=s) for t, b, s in rows]

    def detect_objects(self, image: np.ndarray) -> list[ObjectDetection]:
        """Run ``object_detection`` (SSD-MobileNetV2, COCO) on one RGB uint8 ``[H, W, 3]``
        image (any size): objects scoring ≥ 0.3 by descending score, each with its COCO class
        name and 90-id class id, boxes as fractions (at most 100). The thresholds that make a
        detection worth showing are the caller's."""
        return self.detect_objects_many([image])[0]

    def detect_objects_many(self, images: Sequence[np.ndarray]) -> list[list[ObjectDetection]]:
        """:meth:`detect_objects` for several images of one size (an image and its masked
        copies) in one request per ``OBJECT_MAX_BATCH``: one answer per image."""
        if not images:
            return []
        batch = _evidence_batch(images)
        answers: list[list[ObjectDetection]] = []
        for chunk in _chunks(batch, OBJECT_MAX_BATCH):
            rows = self._call(
                lambda chunk=chunk: self._infer_evidence(OBJECT_MODEL, _OBJECT_OUTPUTS, chunk)
            )
            answers += [[_coco_detection(*row) for row in image_rows] for image_rows in rows]
        return answers

    def cut_probabilities(self, frames_small: np.ndarray) -> np.ndarray:
        """Run ``shot_boundaries`` (TransNetV2) over a whole clip: every frame, RGB uint8
        ``[n, 27, 48, 3]`` (resized to 48 × 27), gives float32 ``[n]``, one cut probability a
        frame. TransNetV2 marks the **last frame of the outgoing shot**: a peak at ``p[i]``
        puts the cut between frames ``i`` and ``i + 1``. The clip is cut into overlapping
        windows of 100 frames and stitched back as the network's own code does
        (``glassbox.video.windows``), sending ``SHOT_WINDOWS_PER_REQUEST`` windows a request.
        An empty clip gives an empty array without a request."""
        try:
            batch, plan = windows(frames_small)
        except ValueError as exc:
            raise InferenceError(str(exc)) from exc
        if plan.windows == 0:
            return np.zeros(0, dtype=np.float32)
        parts = [
            self._call(lambda chunk=chunk: self._infer_windows(chunk))
            for chunk in _chunks(batch, SHOT_WINDOWS_PER_REQUEST)
        ]
        return stitch(plan, np.concatenate(parts))

    def model_versions(self) -> dict[str, str]:
        """The version of every READY model in Triton's model repository index (the highest,
        where several are loaded); raises :class:`InferenceUnavailable` if Triton is down."""
        index = self._call(lambda: self._client().get_model_repository_index())
        ready: dict[str, str] = {}
        for entry in index or []:
            name, version = str(entry.get("name", "")), str(entry.get("version", ""))
            if not name or entry.get("state") != "READY":
                continue
            if name not in ready or _version_key(version) > _version_key(ready[name]):
                ready[name] = version
        return ready

    def ready(self) -> bool:
        """Whether the server is up and ready (never raises)."""
        try:
            return bool(self._call(lambda: self._client().is_server_ready()))
        except InferenceFailure:
            return False

    def model_ready(self, name: str) -> bool:
        """Whether a model is loaded and ready (never raises)."""
        try:
            return bool(self._call(lambda: self._client().is_model_ready(name)))
        except InferenceFailure:
            return False

    # -- internals -------------------------------------------------------------------------

    def _client(self) -> InferenceServerClient:
        client = getattr(self._local, "client", None)
        if client is None:
            from tritonclient.http import InferenceServerClient

            client = InferenceServerClient(
                self.url, connection_timeout=self.timeout, network_timeout=self.timeout
            )
            self._local.client = client
        return client

    def _infer_images(self, chunk: np.ndarray) -> list[np.ndarray]:
        from tritonclient.http import InferInput, InferRequestedOutput

        image = InferInput("IMAGE", list(chunk.shape), "UINT8")
        image.set_data_from_numpy(np.ascontiguousarray(chunk), binary_data=True)
        outputs = [InferRequestedOutput(name, binary_data=True) for name in _IMAGE_OUTPUTS]
        result = self._client().infer(IMAGE_MODEL, [image], outputs=outputs)
        return [_output(result, name) for name in _IMAGE_OUTPUTS]

    def _infer_texts(self, chunk: np.ndarray) -> np.ndarray:
        from tritonclient.http import InferInput, InferRequestedOutput

        text = InferInput("TEXT", list(chunk.shape), "BYTES")
        text.set_data_from_numpy(chunk, binary_data=True)
        output = InferRequestedOutput("EMBEDDING", binary_data=True)
        result = self._client().infer(TEXT_MODEL, [text], outputs=[output])
        return _output(result, "EMBEDDING").astype(np.float32, copy=False)

    def _infer_windows(self, chunk: np.ndarray) -> np.ndarray:
        from tritonclient.http import InferInput, InferRequestedOutput

        frames = InferInput("FRAMES", list(chunk.shape), "UINT8")
        frames.set_data_from_numpy(np.ascontiguousarray(chunk), binary_data=True)
        output = InferRequestedOutput("CUT_PROBABILITIES", binary_data=True)
        result = self._client().infer(SHOT_MODEL, [frames], outputs=[output])
        probs = _output(result, "CUT_PROBABILITIES")
        if probs.shape != (chunk.shape[0], WINDOW):
            raise InferenceError(
                f"{SHOT_MODEL} answered {probs.shape} for {chunk.shape[0]} windows of {WINDOW}"
            )
        return probs.astype(np.float32, copy=False)

    def _infer_evidence(
        self, model: str, names: tuple[str, ...], batch: np.ndarray
    ) -> list[list[tuple[str | int, tuple[float, float, float, float], float]]]:
        """Images ``[n, H, W, 3]`` through ``ocr``, ``nsfw_detector`` or ``object_detection``:
        per image, (text, box, score) per found item; the text is an int where the model
        answers integer labels."""
        from tritonclient.http import InferInput, InferRequestedOutput

        tensor = InferInput("IMAGE", list(batch.shape), "UINT8")
        tensor.set_data_from_numpy(batch, binary_data=True)
        outputs = [InferRequestedOutput(name, binary_data=True) for name in names]
        result = self._client().infer(model, [tensor], outputs=outputs)
        count, items, boxes, scores = (_output(result, name) for name in names)
        answers = []
        for i in range(batch.shape[0]):
            n = int(count.reshape(batch.shape[0], -1)[i, 0])
            if not 0 <= n <= items.shape[-1]:
                raise InferenceError(f"{model} answered COUNT={n} for {items.shape[-1]} slots")
            rows = []
            for k in range(n):
                raw = items[i, k]
                if isinstance(raw, bytes):
                    label: str | int = raw.decode("utf-8", "replace")
                elif isinstance(raw, np.integer):
                    label = int(raw)
                else:
                    label = str(raw)
                box = tuple(float(v) for v in boxes[i, k])
                rows.append((label, box, float(scores[i, k])))
            answers.append(rows)
        return answers

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one request, translating transport and server errors into our two kinds."""
        import gevent
        from tritonclient.utils import InferenceServerException

        try:
            return fn()
        except InferenceServerException as exc:
            raise _classify(exc) from exc
        except (OSError, gevent.Timeout) as exc:  # refused, reset, DNS, socket timeouts
            self.reset()
            raise InferenceUnavailable(f"Triton at {self.url} is unreachable: {exc}") from exc


def _classify(exc: Exception) -> InferenceFailure:
    status_fn = getattr(exc, "status", None)
    status = str(status_fn() or "") if callable(status_fn) else ""
    message = str(exc)
    if status.isdigit():
        code = int(status)
        if code >= 500 or code in _RETRYABLE_STATUS:
            return InferenceUnavailable(message)
    if any(hint in message.lower() for hint in _NOT_READY_HINTS):
        return InferenceUnavailable(message)
    return InferenceError(message)


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


def _output(result: object, name: str) -> np.ndarray:
    array = result.as_numpy(name)  # type: ignore[attr-defined]
    if array is None:
        raise InferenceError(f"the response has no {name} tensor")
    return array


def _evidence_batch(images: Sequence[np.ndarray]) -> np.ndarray:
    """One uint8 ``[n, H, W, 3]`` batch of RGB images of one size, or ``InferenceError``."""
    for image in images:
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
            or image.shape[0] == 0
            or image.shape[1] == 0
        ):
            shape = getattr(image, "shape", None)
            raise InferenceError(
                f"expected one uint8 [H, W, 3] image, got {getattr(image, 'dtype', type(image))} "
                f"{shape}"
            )
    if len({image.shape for image in images}) > 1:
        raise InferenceError(f"images of one request must share a size, got {len(images)} sizes")
    return np.ascontiguousarray(np.stack(images))


def _coco_detection(class_id: str | int, box, score: float) -> ObjectDetection:
    if not isinstance(class_id, int) or class_id not in COCO_LABELS:
        raise InferenceError(f"{OBJECT_MODEL} answered an unknown class id {class_id!r}")
    return ObjectDetection(label=COCO_LABELS[class_id], class_id=class_id, box=box, score=score)


def _chunks(array: np.ndarray, size: int) -> list[np.ndarray]:
    return [array[i : i + size] for i in range(0, array.shape[0], size)]
