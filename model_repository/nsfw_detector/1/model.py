"""Triton adapter for ``nsfw_detector``: tensors in and out, batching, per-request errors.

The detector lives in ``glassbox.nn.nsfw``; its ONNX file comes from the nudenet wheel, loaded
here at ``initialize`` (nothing is downloaded).
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.evidence_types import to_fractions
from glassbox.nn.nsfw import NsfwDetector
from glassbox.triton_batching import answer, image_batch


def _images(request) -> np.ndarray:
    return image_batch(pb_utils.get_input_tensor_by_name(request, "IMAGE"))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.max_detections = int(pb_utils.get_output_config_by_name(config, "LABELS")["dims"][0])
        self.detector = NsfwDetector()  # onnxruntime threads: GLASSBOX_TORCH_THREADS

    def _pack(self, images: np.ndarray, found: list) -> list:
        n, height, width = images.shape[:3]
        k = self.max_detections
        count = np.zeros((n, 1), dtype=np.int32)
        labels = np.full((n, k), b"", dtype=np.object_)
        boxes = np.zeros((n, k, 4), dtype=np.float32)
        scores = np.zeros((n, k), dtype=np.float32)
        for i, detections in enumerate(found):
            detections = detections[:k]  # by descending score: keep the strongest
            count[i, 0] = len(detections)
            for j, d in enumerate(detections):
                labels[i, j] = d.label.encode("utf-8")
                boxes[i, j] = to_fractions(d.box, width, height)
                scores[i, j] = d.score
        return [
            pb_utils.Tensor("COUNT", count),
            pb_utils.Tensor("LABELS", labels),
            pb_utils.Tensor("BOXES", boxes),
            pb_utils.Tensor("SCORES", scores),
        ]

    def execute(self, requests):  # one forward pass over every image of every request
        return answer(
            requests,
            _images,
            lambda batches: self.detector.detect_many([im for ims in batches for im in ims]),
            lambda images, found: pb_utils.InferenceResponse(
                output_tensors=self._pack(images, found)
            ),
            _refuse,
            "nsfw_detector",
        )


def _refuse(message: str):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))
