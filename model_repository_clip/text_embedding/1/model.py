"""Triton adapter for ``text_embedding`` under the clip profile: loads CLIP's text tower and
runs one pass per batch.

The maths lives in ``glassbox.nn.clip.encoder``; ``1/clip/`` (a link to the CLIP weights in
``image_concepts/1/clip``) was placed by ``infra/bin/fetch-clip-weights``. Batching, UTF-8
checks and per-request errors are ``glassbox.serving.adapter.TextAdapter``'s.
"""

import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip.encoder import load_clip_text
from glassbox.serving.adapter import TextAdapter


class TritonPythonModel(TextAdapter):
    name = "text_embedding"
    pb_utils = pb_utils

    def load(self, config):
        configure_threads()
        self.encoder = load_clip_text(config.version_dir, device=instance_device(config.args))
        if self.encoder.dim != self.dim:
            raise ValueError(f"CLIP gives {self.encoder.dim}-d vectors, config says {self.dim}")

    def run(self, batches):
        return self.encoder.encode([text for texts in batches for text in texts])
