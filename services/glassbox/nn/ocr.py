"""Text in images: PP-OCR (detector, direction classifier, recogniser) through rapidocr.

The three ONNX models ship inside the ``rapidocr`` wheel (``rapidocr/models/``). Every model
path is given explicitly, so rapidocr never reaches its download code; it runs on CPU with
onnxruntime, deterministically.

Most photos hold no text, and the detector's full-resolution run is nearly all of the cost, so
an optional :class:`Gate` first runs the same detector on a smaller copy of the image and skips
the full pass when its probability map holds no candidate line; when it fires, the full pass
runs unchanged (its lines are exactly the ungated reader's). ``bench/ocr.py`` measures both.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassbox.config import ConfigError
from glassbox.evidence_types import TextLine
from glassbox.nn import _threads_from_env, require_file

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
MIN_SCORE = 0.5  # rapidocr's default text_score: lines recognised below it are dropped
# Images longer than this many times their width (or wider than their height) are padded
# first: rapidocr's detector scales the short side up to 736 px, so a 2000×100 strip would
# become 736×14720 (10 s and 2 GB here), and very thin strips fail its resize outright.
MAX_ASPECT = 4.0


@dataclass(frozen=True)
class Gate:
    """The cheap first pass: the detector at ``scale`` times the size its full pass sees,
    binarised at ``thresh`` (full pass: 0.3), a candidate kept when its mean probability is at
    least ``box_thresh`` (full pass: 0.5) and its short side at least ``min_size`` pixels of
    the small map (full pass: 3), and its box spanning ``min_contrast`` grey levels (ink). Any
    such candidate opens the gate. The detector misses text under roughly 15 px in its input,
    so the gate misses text under about ``15 / scale`` px there."""

    scale: float = 0.5
    thresh: float = 0.1
    box_thresh: float = 0.2
    min_size: int = 1
    min_contrast: float = 16.0  # grey levels a candidate's box must span (see SmallPass)

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1:
            raise ValueError(f"gate scale must be in (0, 1], got {self.scale}")


GATE_ENV = "GLASSBOX_OCR_GATE"


def gate_from_env(name: str = GATE_ENV) -> Gate | None:
    """The Triton model's gate: ``GLASSBOX_OCR_GATE`` ``1`` is :class:`Gate`'s measured
    setting; ``0`` (the default, also when unset or empty) reads every image in full, because
    the gate loses small text (docs/decisions.md, issue 14)."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return Gate()
    if raw in ("", "0", "false", "no", "off"):
        return None
    raise ConfigError(f"{name}={raw!r} is not 0 or 1")


def bundled_model_dir() -> Path:
    """The folder of PP-OCR ONNX files inside the installed rapidocr wheel."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


class TextReader:
    """``read(image)`` → the lines of text in an RGB uint8 ``[H, W, 3]`` image."""

    def __init__(
        self,
        threads: int | None = None,
        min_score: float = MIN_SCORE,
        gate: Gate | None = None,
    ):
        from rapidocr import RapidOCR

        model_dir = bundled_model_dir()
        paths = {
            key: model_dir / name
            for key, name in (("Det", DET_MODEL), ("Rec", REC_MODEL), ("Cls", CLS_MODEL))
        }
        for path in paths.values():
            require_file(path, "OCR model", "rapidocr==3.10.0")
        if threads is None:
            threads = _threads_from_env()
        params: dict[str, object] = {
            "Global.log_level": "error",
            "Global.text_score": float(min_score),
            "Global.model_root_dir": str(model_dir),
            **{f"{key}.model_path": str(path) for key, path in paths.items()},
        }
        if threads is not None:  # else onnxruntime's default (one thread per core)
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(threads)
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        self.engine = RapidOCR(params=params)
        # rapidocr loads each model on first use; load them now, so that a Triton model is
        # complete when `initialize` returns and the first request pays nothing extra.
        for load in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
            loader = getattr(self.engine, load, None)
            if loader is not None:
                loader()
        self.gate = gate
        self._gate_post = None if gate is None else gate_postprocess(gate, self.engine)

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Lines of text in reading order (top to bottom, left to right); boxes are
        axis-aligned ``(x0, y0, x1, y1)`` in pixels, inside the image."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 [H, W, 3], got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return []
        bgr = _detector_input(image)
        if self.gate is not None and not self._gate_opens(bgr):
            return []
        result = self.engine(bgr)
        if result.boxes is None or result.txts is None:
            return []
        lines = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            quad = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
            x0, y0 = quad.min(axis=0)
            x1, y1 = quad.max(axis=0)
            box = (
                float(np.clip(x0, 0, width)),
                float(np.clip(y0, 0, height)),
                float(np.clip(x1, 0, width)),
                float(np.clip(y1, 0, height)),
            )
            if not text.strip() or box[2] <= box[0] or box[3] <= box[1]:
                continue  # nothing readable, or wholly inside the padding
            lines.append(TextLine(text=str(text), box=box, score=float(score)))
        return lines

    def may_hold_text(self, image: np.ndarray) -> bool:
        """Whether the gate opens for an RGB image (always, without a gate)."""
        return self.gate is None or self._gate_opens(_detector_input(image))

    def small_pass(self, image: np.ndarray, scale: float) -> SmallPass | None:
        """The detector on an RGB image at ``scale`` times the size its full pass would see
        (``None`` when it cannot be made): what the gate judges."""
        return self._small_pass(_detector_input(image), scale)

    def _gate_opens(self, bgr: np.ndarray) -> bool:
        """Whether the small pass finds any candidate line (also when it cannot run)."""
        assert self.gate is not None and self._gate_post is not None
        small = self._small_pass(bgr, self.gate.scale)
        return small is None or small.opens(self._gate_post, self.gate.min_contrast)

    def _small_pass(self, bgr: np.ndarray, scale: float) -> SmallPass | None:
        """rapidocr's detector network on the image resized to ``scale`` times the size of its
        full pass's input (INTER_AREA when shrinking, so that thin strokes are not skipped)."""
        import cv2
        from rapidocr.ch_ppocr_det.utils import DetPreProcess
        from rapidocr.utils.process_img import resize_image_within_bounds

        cfg = self.engine.cfg
        # what the full pass's detector starts from: rapidocr's own bounds (30 to 2000 px)
        img, _, _ = resize_image_within_bounds(
            bgr, cfg.Global.min_side_len, cfg.Global.max_side_len
        )
        det = self.engine.text_det
        height, width = img.shape[:2]
        full = max(1.0, det.limit_side_len / min(height, width))  # DetPreProcess, limit "min"
        ratio = full * scale
        size = (round(width * ratio), round(height * ratio))
        if min(size) < 32:
            return None
        interpolation = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LINEAR
        small = cv2.resize(img, size, interpolation=interpolation)
        # limit = its own short side: DetPreProcess only rounds it to the network's 32 px cells
        tensor = DetPreProcess(min(size), "min", det.mean, det.std)(small)
        if tensor is None:
            return None
        prob = np.asarray(det.session(tensor))[0, 0]
        # grey levels (0-255) of what the network saw, for the ink test; mean = std = 0.5
        grey = (tensor[0].mean(axis=0) * 0.5 + 0.5) * 255.0
        return SmallPass(prob=prob, grey=grey)


@dataclass(frozen=True)
class SmallPass:
    """The gate's look at an image: the detector's probability map and the grey levels it
    was computed from, both ``[h, w]`` at the small size."""

    prob: np.ndarray
    grey: np.ndarray

    def opens(self, post, min_contrast: float) -> bool:
        """Whether any candidate of ``post`` (a DB post-process) has ink: a spread of at least
        ``min_contrast`` grey levels inside its box. On a flat image the detector answers with
        a broad, faint blob (up to 0.57 on plain white at 640 × 480) that no text can be in."""
        boxes, _ = post(self.prob[None, None], self.prob.shape)
        for quad in np.asarray(boxes, dtype=np.float64).reshape(-1, 4, 2):
            x0, y0 = (max(0, int(v)) for v in np.floor(quad.min(axis=0)))
            x1, y1 = (int(v) + 1 for v in np.ceil(quad.max(axis=0)))
            patch = self.grey[y0:y1, x0:x1]
            if patch.size and float(patch.max() - patch.min()) >= min_contrast:
                return True
        return False


def gate_postprocess(gate: Gate, engine):
    """rapidocr's DB post-process with the gate's lower thresholds and the full pass's other
    settings (unclip ratio, dilation, fast box score)."""
    from rapidocr.ch_ppocr_det.utils import DBPostProcess

    det_cfg = engine.cfg.Det
    post = DBPostProcess(
        thresh=gate.thresh,
        box_thresh=gate.box_thresh,
        max_candidates=int(det_cfg.get("max_candidates", 1000)),
        unclip_ratio=float(det_cfg.get("unclip_ratio", 1.6)),
        score_mode=str(det_cfg.get("score_mode", "fast")),
        use_dilation=bool(det_cfg.get("use_dilation", True)),
    )
    post.min_size = gate.min_size
    return post


def _detector_input(image: np.ndarray) -> np.ndarray:
    """What rapidocr gets: the image padded to :data:`MAX_ASPECT`, as contiguous BGR."""
    return np.ascontiguousarray(_pad_to_aspect(image, MAX_ASPECT)[:, :, ::-1])


def _pad_to_aspect(image: np.ndarray, max_aspect: float) -> np.ndarray:
    """Pad the bottom or right with the image's mean colour so that neither side is more
    than ``max_aspect`` times the other; pixel coordinates of the original are unchanged."""
    height, width = image.shape[:2]
    pad_h = max(0, math.ceil(width / max_aspect) - height)
    pad_w = max(0, math.ceil(height / max_aspect) - width)
    if not pad_h and not pad_w:
        return image
    fill = image.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    out = np.empty((height + pad_h, width + pad_w, 3), dtype=np.uint8)
    out[...] = fill
    out[:height, :width] = image
    return out
