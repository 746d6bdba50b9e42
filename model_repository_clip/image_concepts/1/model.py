"""Triton adapter for ``image_concepts`` under the clip profile: loads CLIP and the concept bank,
checks them against the config, and runs one pass per batch.

The maths lives in ``glassbox.nn.clip.encoder``; CLIP (``1/clip/``) and the CLIP-encoded
concept bank (``1/concept_bank.npz``) were placed by ``infra/bin/fetch-clip-weights``.
Batching, input checks and per-request errors are ``glassbox.serving.adapter.ImageAdapter``'s.
"""

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip.encoder import load_clip_concepts
from glassbox.serving.adapter import ImageAdapter


class TritonPythonModel(ImageAdapter):
    name = "image_concepts"
    pb_utils = pb_utils
    outputs = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")

    def load(self, config):
        cam_dims = config.output_dims("CAMS")
        configure_threads()
        self.net, _bank = load_clip_concepts(
            config.version_dir, top_k=cam_dims[0], device=instance_device(config.args)
        )
        got = {
            "CONCEPT_LOGITS": [self.net.num_concepts],
            "POOLED_FEATURES": [self.net.clip.dim],
            "CAMS": [cam_dims[0], self.net.clip.grid, self.net.clip.grid],
        }
        for name, dims in got.items():
            want = config.output_dims(name)
            if dims != want:
                raise ValueError(f"{name}: the model gives {dims}, config.pbtxt says {want}")

    def run(self, batches):
        return tuple(self.net.run(np.concatenate(batches)))
