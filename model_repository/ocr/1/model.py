"""Triton adapter for ``ocr``: tensors in and out, padding to a fixed maximum, per-request errors.

The reading lives in ``glassbox.nn.ocr``; its ONNX models come from the rapidocr wheel, loaded
here at ``initialize`` (nothing is downloaded).
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.evidence_types import to_fractions
from glassbox.nn.ocr import TextReader
from glassbox.triton_batching import answer, image_batch


def _images(request) -> np.ndarray:
    return image_batch(pb_utils.get_input_tensor_by_name(request, "IMAGE"))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_lines = int(pb_utils.get_output_config_by_name(config, "TEXTS")["dims"][0])
        self.reader = TextReader()  # onnxruntime threads: GLASSBOX_TORCH_THREADS

    def _pack(self, images: np.ndarray, found: list) -> list:
        n, height, width = images.shape[:3]
        count = np.zeros((n, 1), dtype=np.int32)
        texts = np.full((n, self.max_lines), b"", dtype=np.object_)
        boxes = np.zeros((n, self.max_lines, 4), dtype=np.float32)
        scores = np.zeros((n, self.max_lines), dtype=np.float32)
        for i, lines in enumerate(found):
            lines = lines[: self.max_lines]  # reading order: keep the first
            count[i, 0] = len(lines)
            for j, line in enumerate(lines):
                texts[i, j] = line.text.encode("utf-8")
                boxes[i, j] = to_fractions(line.box, width, height)
                scores[i, j] = line.score
        return [
            pb_utils.Tensor("COUNT", count),
            pb_utils.Tensor("TEXTS", texts),
            pb_utils.Tensor("BOXES", boxes),
            pb_utils.Tensor("SCORES", scores),
        ]

    def _read(self, image: np.ndarray):
        try:
            return self.reader.read(image)
        except Exception as exc:  # one image's failure must not sink the other requests
            return exc

    def _respond(self, images: np.ndarray, found: list):
        failed = [r for r in found if isinstance(r, Exception)]
        if failed:
            return _refuse(f"ocr failed: {failed[0]}")
        return pb_utils.InferenceResponse(output_tensors=self._pack(images, found))

    def execute(self, requests):  # OCR reads image by image; one response per request
        return answer(
            requests,
            _images,
            lambda batches: [self._read(im) for ims in batches for im in ims],
            self._respond,
            _refuse,
            "ocr",
        )


def _refuse(message: str):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))
