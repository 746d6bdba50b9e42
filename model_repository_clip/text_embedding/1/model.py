"""Triton adapter for ``text_embedding`` under the clip profile: tensors in and out, batching,
per-request errors.

The maths lives in ``glassbox.nn.clip_profile``; ``1/clip/`` (a link to the CLIP weights in
``image_concepts/1/clip``) was placed by ``infra/bin/fetch-clip-weights``.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip_profile import load_clip_text
from glassbox.triton_batching import answer, utf8_texts


def _decode(request) -> list[str]:
    return utf8_texts(pb_utils.get_input_tensor_by_name(request, "TEXT"))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        out_cfg = pb_utils.get_output_config_by_name(config, "EMBEDDING")
        self.dim = int(out_cfg["dims"][0])
        self.dtype = pb_utils.triton_string_to_numpy(out_cfg["data_type"])
        version_dir = Path(args["model_repository"]) / args["model_version"]
        configure_threads()
        self.encoder = load_clip_text(version_dir, device=instance_device(args))
        if self.encoder.dim != self.dim:
            raise ValueError(f"CLIP gives {self.encoder.dim}-d vectors, config says {self.dim}")

    def _respond(self, texts, embeddings):
        out = np.ascontiguousarray(embeddings, dtype=self.dtype)
        return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", out)])

    def execute(self, requests):
        return answer(
            requests,
            _decode,
            lambda batches: self.encoder.encode([text for texts in batches for text in texts]),
            self._respond,
            _refuse,
            "text_embedding",
        )


def _refuse(message: str):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))
