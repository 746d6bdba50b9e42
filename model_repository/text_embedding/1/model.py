"""Triton adapter for ``text_embedding``: loads the encoder and runs one pass per batch.

The maths lives in ``glassbox.nn.text_encoder``; the encoder files were placed in
``1/encoder/`` by ``python -m glassbox.tools.prepare``. Batching, UTF-8 checks and per-request
errors are ``glassbox.serving.adapter.TextAdapter``'s.
"""

import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.text_encoder import TextEncoder
from glassbox.serving.adapter import TextAdapter


class TritonPythonModel(TextAdapter):
    name = "text_embedding"
    pb_utils = pb_utils

    def load(self, config):
        configure_threads()
        device = instance_device(config.args)
        self.encoder = TextEncoder(config.version_dir / "encoder", device=device)
        if self.encoder.dim != self.dim:
            raise ValueError(f"encoder gives {self.encoder.dim}-d vectors, config says {self.dim}")

    def run(self, batches):
        return self.encoder.encode([text for texts in batches for text in texts])
