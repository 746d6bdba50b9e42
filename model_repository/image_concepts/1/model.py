"""Triton adapter for ``image_concepts``: tensors in and out, batching, per-request errors.

The maths lives in ``glassbox.nn.mobilenet_v2``; the weights were placed next to this file by
``python -m glassbox.prepare``.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.mobilenet_v2 import load_concept_net
from glassbox.triton_batching import answer, image_batch

OUTPUTS = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        image_cfg = pb_utils.get_input_config_by_name(config, "IMAGE")
        self.image_shape = tuple(int(d) for d in image_cfg["dims"])
        top_k = int(pb_utils.get_output_config_by_name(config, "CAM_INDICES")["dims"][0])
        self.dtypes = {
            name: pb_utils.triton_string_to_numpy(
                pb_utils.get_output_config_by_name(config, name)["data_type"]
            )
            for name in OUTPUTS
        }
        version_dir = Path(args["model_repository"]) / args["model_version"]
        configure_threads()
        self.net = load_concept_net(
            version_dir / "mobilenet_v2.pth", top_k=top_k, device=instance_device(args)
        )

    def _images(self, request) -> np.ndarray:
        return image_batch(pb_utils.get_input_tensor_by_name(request, "IMAGE"), self.image_shape)

    def _respond(self, images, outputs):
        tensors = [
            pb_utils.Tensor(name, array.astype(self.dtypes[name], copy=False))
            for name, array in zip(OUTPUTS, outputs, strict=True)
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors)

    def execute(self, requests):
        return answer(
            requests,
            self._images,
            lambda batches: tuple(self.net.run(np.concatenate(batches))),
            self._respond,
            _refuse,
            "image_concepts",
        )


def _refuse(message: str):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))
