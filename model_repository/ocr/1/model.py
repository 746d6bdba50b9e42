"""Triton adapter for ``ocr``: tensors in and out, padding to a fixed maximum, per-request errors.

The reading lives in ``glassbox.nn.ocr``; its ONNX models come from the rapidocr wheel, loaded
here at ``initialize`` (nothing is downloaded).
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.evidence_types import to_fractions
from glassbox.nn.ocr import TextReader


def _images(request) -> np.ndarray:
    tensor = pb_utils.get_input_tensor_by_name(request, "IMAGE")
    if tensor is None:
        raise ValueError("input IMAGE is missing")
    images = tensor.as_numpy()
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"IMAGE must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise ValueError(f"IMAGE is empty: {images.shape}")
    return images


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_lines = int(pb_utils.get_output_config_by_name(config, "TEXTS")["dims"][0])
        self.reader = TextReader()  # onnxruntime threads: GLASSBOX_TORCH_THREADS

    def _pack(self, images: np.ndarray) -> list:
        n, height, width = images.shape[:3]
        count = np.zeros((n, 1), dtype=np.int32)
        texts = np.full((n, self.max_lines), b"", dtype=np.object_)
        boxes = np.zeros((n, self.max_lines, 4), dtype=np.float32)
        scores = np.zeros((n, self.max_lines), dtype=np.float32)
        for i, image in enumerate(images):
            lines = self.reader.read(image)[: self.max_lines]  # reading order: keep the first
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

    def execute(self, requests):
        responses = []
        for request in requests:  # OCR runs image by image: each request is answered alone
            try:
                tensors = self._pack(_images(request))
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except ValueError as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
            except Exception as exc:  # a failure on this request must not sink the others
                responses.append(
                    pb_utils.InferenceResponse(error=pb_utils.TritonError(f"ocr failed: {exc}"))
                )
        return responses
