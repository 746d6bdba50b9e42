"""Triton adapter for ``image_concepts`` under the clip profile: tensors in and out, batching,
per-request errors.

The maths lives in ``glassbox.nn.clip_profile``; CLIP (``1/clip/``) and the CLIP-encoded
concept bank (``1/concept_bank.npz``) were placed by ``infra/bin/fetch-clip-weights``.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip_profile import load_clip_concepts
from glassbox.triton_batching import answer, image_batch

OUTPUTS = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        image_cfg = pb_utils.get_input_config_by_name(config, "IMAGE")
        self.image_shape = tuple(int(d) for d in image_cfg["dims"])
        out_cfg = {name: pb_utils.get_output_config_by_name(config, name) for name in OUTPUTS}
        self.dtypes = {
            name: pb_utils.triton_string_to_numpy(cfg["data_type"]) for name, cfg in out_cfg.items()
        }
        cam_dims = [int(d) for d in out_cfg["CAMS"]["dims"]]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        configure_threads()
        self.net, _bank = load_clip_concepts(
            version_dir, top_k=cam_dims[0], device=instance_device(args)
        )
        got = {
            "CONCEPT_LOGITS": [self.net.num_concepts],
            "POOLED_FEATURES": [self.net.clip.dim],
            "CAMS": [cam_dims[0], self.net.clip.grid, self.net.clip.grid],
        }
        for name, dims in got.items():
            want = [int(d) for d in out_cfg[name]["dims"]]
            if dims != want:
                raise ValueError(f"{name}: the model gives {dims}, config.pbtxt says {want}")

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
