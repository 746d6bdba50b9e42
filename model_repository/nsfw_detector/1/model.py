"""Triton adapter for ``nsfw_detector``: loads the detector and runs one pass per batch.

The detector lives in ``glassbox.nn.nsfw``; its ONNX file comes from the nudenet wheel, loaded
here at ``initialize`` (nothing is downloaded). Batching, input checks, padding to the
configured maximum and per-request errors are ``glassbox.serving.adapter.BoxesAdapter``'s.
"""

import triton_python_backend_utils as pb_utils
from glassbox.nn.nsfw import NsfwDetector
from glassbox.serving.adapter import BoxesAdapter


class TritonPythonModel(BoxesAdapter):
    name = "nsfw_detector"
    pb_utils = pb_utils
    outputs = ("COUNT", "LABELS", "BOXES", "SCORES")
    label = "label"

    def load(self, config):
        self.detector = NsfwDetector()  # onnxruntime threads: GLASSBOX_TORCH_THREADS

    def run(self, batches):  # one forward pass over every image of every request
        return self.detector.detect_many([image for images in batches for image in images])
