"""MobileNetV2 (ImageNet-1k) in plain torch, plus the exact class-activation-map head.

The module tree mirrors torchvision's ``mobilenet_v2`` so its ``state_dict`` keys match and
``mobilenet_v2-b0353104.pth`` loads with ``strict=True`` (torchvision itself cannot be installed
next to torch 2.13 here, see MODELS.md).

:class:`ConceptNet` turns a uint8 batch ``[N, 224, 224, 3]`` into the ``image_concepts``
outputs of docs/contracts.md. Because the classifier is linear after global average pooling,
``logit_c = mean_hw(W_c · F(h, w)) + b_c``: the CAM is an exact decomposition of the logit.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_CLASSES = 1000
FEATURE_DIM = 1280
CAM_TOP_K = 16

# (expansion t, output channels c, repeats n, first stride s), as in the paper and torchvision
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn_relu6(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_residual = stride == 1 and inp == out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(inp, hidden, kernel=1))
        layers += [
            _conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out, 1, bias=False),
            nn.BatchNorm2d(out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision-compatible MobileNetV2 (width 1.0): ``features`` then ``classifier``."""

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.2):
        super().__init__()
        channels = 32
        layers: list[nn.Module] = [_conv_bn_relu6(3, channels, stride=2)]
        for t, c, n, s in _INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
                channels = c
        layers.append(_conv_bn_relu6(channels, FEATURE_DIM, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean(dim=(2, 3))
        return self.classifier(pooled)


class ConceptOutputs(NamedTuple):
    """One batch of ``image_concepts`` outputs (numpy, float32 / int32)."""

    logits: np.ndarray  # [N, 1000]
    pooled: np.ndarray  # [N, 1280]
    cam_indices: np.ndarray  # [N, K] int32, descending logit
    cams: np.ndarray  # [N, K, 7, 7]
    cam_bias: np.ndarray  # [N, K]


class ConceptNet(nn.Module):
    """uint8 HWC images in, logits, pooled features and the top-K exact CAMs out."""

    def __init__(
        self, backbone: MobileNetV2, top_k: int = CAM_TOP_K, device: torch.device | str = "cpu"
    ):
        super().__init__()
        self.backbone = backbone
        self.top_k = top_k
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255.0)
        self.to(device)

    @property
    def device(self) -> torch.device:
        """Where the module lives (follows later ``.to()`` calls)."""
        return self.mean.device

    def forward(self, images: torch.Tensor):
        x = (images.permute(0, 3, 1, 2).float() - self.mean) / self.std
        fmap = self.backbone.features(x)  # [N, 1280, 7, 7], after the last ReLU6
        pooled = fmap.mean(dim=(2, 3))
        linear = self.backbone.classifier[1]
        logits = linear(pooled)
        indices = logits.topk(self.top_k, dim=1).indices  # sorted, descending
        weights = linear.weight[indices]  # [N, K, 1280]
        cams = torch.einsum("nkc,nchw->nkhw", weights, fmap)
        return logits, pooled, indices.to(torch.int32), cams, linear.bias[indices]

    def run(self, images: np.ndarray) -> ConceptOutputs:
        """Numpy in, numpy out: ``images`` is uint8 ``[N, H, W, 3]`` (224×224 per the contract).

        The uint8 batch is moved to :attr:`device` before conversion; results come back as CPU
        numpy arrays."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
        with torch.inference_mode():
            batch = torch.from_numpy(np.require(images, requirements=["C", "W"]))
            forward = self._frozen if self._frozen is not None else self
            out = forward(batch.to(self.device))
        return ConceptOutputs(*(t.cpu().numpy() for t in out))

    _frozen: torch.jit.ScriptModule | None = None

    def freeze(self, example_batch: int = 4) -> ConceptNet:
        """Trace and freeze the network for inference (batch norm folded into the convolutions,
        oneDNN kernels): on one CPU thread 1.5-2x faster than eager (``bench/classifiers.py``
        style timing in docs/decisions.md), logits within 2e-5. The CAMs stay exact: they and
        the logits come from the same feature map in the frozen graph. ``run`` uses it after."""
        example = torch.zeros((example_batch, 224, 224, 3), dtype=torch.uint8, device=self.device)
        with torch.inference_mode():
            frozen = torch.jit.optimize_for_inference(torch.jit.trace(self.eval(), example))
            frozen(example)  # the first calls specialise the graph; pay them now
            frozen(example[:1])
        # not a registered submodule: state_dict and .to() stay the eager network's
        object.__setattr__(self, "_frozen", frozen)
        return self


def load_mobilenet_v2(weights_path: Path | str) -> MobileNetV2:
    model = MobileNetV2()
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_concept_net(
    weights_path: Path | str,
    top_k: int = CAM_TOP_K,
    device: torch.device | str = "cpu",
    frozen: bool = False,
) -> ConceptNet:
    """Load torchvision's ImageNet weights into an eval-mode :class:`ConceptNet` on ``device``;
    with ``frozen``, traced and frozen for inference (:meth:`ConceptNet.freeze`)."""
    net = ConceptNet(load_mobilenet_v2(weights_path), top_k=top_k, device=device).eval()
    return net.freeze() if frozen else net
