"""Triton adapter for ``caption`` (clip profile only): tensors in and out, batching,
per-request errors.

The maths lives in ``glassbox.nn.clip_profile``: BLIP writes the caption, CLIP grounds each
noun phrase on the patch grid. ``1/blip/`` and ``1/clip/`` (a link to the CLIP weights in
``image_concepts/1/clip``) were placed by ``infra/bin/fetch-clip-weights``.
"""

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip_profile import load_captioner
from glassbox.triton_batching import answer, image_batch

OUTPUTS = ("CAPTION", "PHRASES", "PHRASE_MAPS", "PHRASE_SCORES", "PHRASE_GROUNDED")


def _parameter(config, key: str, default: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", default)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        image_cfg = pb_utils.get_input_config_by_name(config, "IMAGE")
        self.image_shape = tuple(int(d) for d in image_cfg["dims"])
        out_cfg = {name: pb_utils.get_output_config_by_name(config, name) for name in OUTPUTS}
        self.dtypes = {
            name: pb_utils.triton_string_to_numpy(cfg["data_type"]) for name, cfg in out_cfg.items()
        }
        map_dims = [int(d) for d in out_cfg["PHRASE_MAPS"]["dims"]]
        version_dir = Path(args["model_repository"]) / args["model_version"]
        configure_threads()
        self.captioner = load_captioner(
            version_dir,
            device=instance_device(args),
            threshold=float(_parameter(config, "grounding_threshold", "0.2")),
            max_phrases=map_dims[0],
            max_new_tokens=int(_parameter(config, "max_new_tokens", "30")),
            num_beams=int(_parameter(config, "num_beams", "1")),
        )
        grid = self.captioner.clip.grid
        if map_dims[1:] != [grid, grid]:
            raise ValueError(f"PHRASE_MAPS: CLIP's grid is {grid}x{grid}, config says {map_dims}")

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
            lambda batches: tuple(self.captioner.run(np.concatenate(batches))),
            self._respond,
            _refuse,
            "caption",
        )


def _refuse(message: str):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))
