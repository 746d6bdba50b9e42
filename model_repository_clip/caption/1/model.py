"""Triton adapter for ``caption`` (clip profile only): loads BLIP and CLIP with the config's
parameters and runs one pass per batch.

The maths lives in ``glassbox.nn.clip.captioner``: BLIP writes the caption, CLIP grounds each
noun phrase on the patch grid. ``1/blip/`` and ``1/clip/`` (a link to the CLIP weights in
``image_concepts/1/clip``) were placed by ``infra/bin/fetch-clip-weights``. Batching, input
checks and per-request errors are ``glassbox.serving.adapter.ImageAdapter``'s.
"""

import numpy as np
import triton_python_backend_utils as pb_utils
from glassbox.nn import configure_threads, instance_device
from glassbox.nn.clip.captioner import load_captioner
from glassbox.serving.adapter import ImageAdapter


class TritonPythonModel(ImageAdapter):
    name = "caption"
    pb_utils = pb_utils
    outputs = ("CAPTION", "PHRASES", "PHRASE_MAPS", "PHRASE_SCORES", "PHRASE_GROUNDED")

    def load(self, config):
        map_dims = config.output_dims("PHRASE_MAPS")
        configure_threads()
        self.captioner = load_captioner(
            config.version_dir,
            device=instance_device(config.args),
            threshold=float(config.parameter("grounding_threshold", "0.2")),
            max_phrases=map_dims[0],
            max_new_tokens=int(config.parameter("max_new_tokens", "30")),
            num_beams=int(config.parameter("num_beams", "1")),
        )
        grid = self.captioner.clip.grid
        if map_dims[1:] != [grid, grid]:
            raise ValueError(f"PHRASE_MAPS: CLIP's grid is {grid}x{grid}, config says {map_dims}")

    def run(self, batches):
        return tuple(self.captioner.run(np.concatenate(batches)))
