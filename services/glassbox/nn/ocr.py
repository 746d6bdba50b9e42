"""Text in images: PP-OCR (detector, direction classifier, recogniser) through rapidocr.

The three ONNX models ship inside the ``rapidocr`` wheel (``rapidocr/models/``). Every model
path is given explicitly, so rapidocr never reaches its download code; it runs on CPU with
onnxruntime, deterministically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

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


def bundled_model_dir() -> Path:
    """The folder of PP-OCR ONNX files inside the installed rapidocr wheel."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


class TextReader:
    """``read(image)`` → the lines of text in an RGB uint8 ``[H, W, 3]`` image."""

    def __init__(self, threads: int | None = None, min_score: float = MIN_SCORE):
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

    def read(self, image: np.ndarray) -> list[TextLine]:
        """Lines of text in reading order (top to bottom, left to right); boxes are
        axis-aligned ``(x0, y0, x1, y1)`` in pixels, inside the image."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 [H, W, 3], got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if height == 0 or width == 0:
            return []
        bgr = np.ascontiguousarray(_pad_to_aspect(image, MAX_ASPECT)[:, :, ::-1])
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
