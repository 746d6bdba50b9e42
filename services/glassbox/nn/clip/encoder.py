"""CLIP's two towers from a local directory: ``image_concepts`` (zero-shot concept scores
and text-to-patch maps) and ``text_embedding`` under the clip profile, and the loading helpers
the captioner shares."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from glassbox.concepts import ConceptBank
from glassbox.nn import tokenize

# Placement inside a version folder of a clip-profile Triton repository.
CLIP_SUBDIR = "clip"
CONCEPT_BANK_FILE = "concept_bank.npz"
FETCH_HINT = "infra/bin/fetch-clip-weights (see docs/clip-profile.md)"

# CLIP's published normalisation (BLIP uses the same numbers).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CAM_TOP_K = 16
MAX_TEXT_TOKENS = 77
CONCEPT_PROMPT = "a photo of a {name}."


class MissingWeights(FileNotFoundError):
    """A model directory the clip profile needs is not there; the message says how to fix it."""


def offline() -> None:
    # Loading must never reach a hub, whatever the caller's environment says.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def require_model_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise MissingWeights(f"no {what} model in {path} (config.json missing): run {FETCH_HINT}")
    return path


def image_stats(model_dir: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    cfg = Path(model_dir) / "preprocessor_config.json"
    if cfg.is_file():
        data = json.loads(cfg.read_text())
        if "image_mean" in data and "image_std" in data:
            return tuple(data["image_mean"]), tuple(data["image_std"])
    return CLIP_MEAN, CLIP_STD


class ImageInput(torch.nn.Module):
    """uint8 ``[N, H, W, 3]`` → normalised float ``[N, 3, size, size]``: the whole image is
    resized (bicubic, antialiased, no crop, as in the offline profile), then standardised."""

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.size = int(size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bicubic", antialias=True, align_corners=False
            ).clamp_(0.0, 255.0)
        return (x / 255.0 - self.mean) / self.std


def as_batch(images: np.ndarray) -> torch.Tensor:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    return torch.from_numpy(np.require(images, requirements=["C", "W"]))


class ClipEncoder:
    """CLIP's two towers, loaded from a local directory: unit-length image, patch and text
    embeddings in the joint space. ``parts`` drops the tower a model does not need."""

    def __init__(
        self,
        model_dir: Path | str,
        parts: Sequence[str] = ("vision", "text"),
        device: torch.device | str = "cpu",
    ):
        from transformers import AutoTokenizer, CLIPModel

        offline()
        model_dir = require_model_dir(Path(model_dir), "CLIP")
        self.model_dir = model_dir
        self.device = torch.device(device)
        model = CLIPModel.from_pretrained(model_dir, local_files_only=True)
        if "text" in parts:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        else:
            self.tokenizer = None
            del model.text_model, model.text_projection
        if "vision" not in parts:
            del model.vision_model, model.visual_projection
        self.model = model.to(self.device).eval()
        vision = model.config.vision_config
        self.image_size = int(vision.image_size)
        self.grid = self.image_size // int(vision.patch_size)
        self.dim = int(model.config.projection_dim)
        self.logit_scale = float(model.logit_scale.detach().exp())
        self.max_tokens = min(
            MAX_TEXT_TOKENS, int(model.config.text_config.max_position_embeddings)
        )
        self.preprocess = ImageInput(self.image_size, *image_stats(model_dir)).to(self.device)

    @torch.inference_mode()
    def image_embeddings(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 ``[N, H, W, 3]`` → (image ``[N, D]``, patches ``[N, grid², D]``), unit length.

        A patch embedding is the patch token's final hidden state through the same
        ``post_layernorm`` and ``visual_projection`` as the class token."""
        vision = self.model.vision_model
        pixels = self.preprocess(images.to(self.device))
        hidden = vision(pixel_values=pixels).last_hidden_state  # [N, 1 + grid², hidden]
        tokens = self.model.visual_projection(vision.post_layernorm(hidden))
        tokens = F.normalize(tokens, dim=-1)
        return tokens[:, 0], tokens[:, 1:]

    @torch.inference_mode()
    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), D]`` unit-length text embeddings (truncated at 77 tokens)."""
        if self.tokenizer is None:
            raise RuntimeError("this ClipEncoder was loaded without its text tower")
        if len(texts) == 0:
            return torch.zeros((0, self.dim), device=self.device)
        batch = tokenize(self.tokenizer, texts, self.max_tokens, self.device)
        pooled = self.model.text_model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).pooler_output
        return F.normalize(self.model.text_projection(pooled), dim=-1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[n, D]`` numpy (the ``text_embedding`` model and the bank builder)."""
        return self.text_embeddings(texts).float().cpu().numpy()


class ConceptOutputs(NamedTuple):
    """One batch of ``image_concepts`` outputs, in the offline profile's order."""

    logits: np.ndarray  # [N, C]
    pooled: np.ndarray  # [N, D]
    cam_indices: np.ndarray  # [N, K] int32, descending logit
    cams: np.ndarray  # [N, K, g, g]
    cam_bias: np.ndarray  # [N, K]


class ClipConcepts:
    """``image_concepts`` under the clip profile: zero-shot scores over the concept bank's
    leaves, the image embedding, and text-to-patch similarity maps of the top-K concepts."""

    def __init__(self, clip: ClipEncoder, concept_embeddings: np.ndarray, top_k: int = CAM_TOP_K):
        emb = np.asarray(concept_embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[1] != clip.dim:
            raise ValueError(f"concept embeddings {emb.shape} do not fit CLIP's {clip.dim}-d space")
        self.clip = clip
        self.top_k = int(top_k)
        self.concepts = torch.from_numpy(emb.copy()).to(clip.device)

    @property
    def num_concepts(self) -> int:
        return int(self.concepts.shape[0])

    @torch.inference_mode()
    def run(self, images: np.ndarray) -> ConceptOutputs:
        image, patches = self.clip.image_embeddings(as_batch(images))
        scale = self.clip.logit_scale
        logits = scale * image @ self.concepts.T  # [N, C]
        indices = logits.topk(self.top_k, dim=1).indices  # sorted, descending
        chosen = self.concepts[indices]  # [N, K, D]
        g = self.clip.grid
        cams = scale * torch.einsum("nkd,npd->nkp", chosen, patches)
        cams = cams.reshape(len(images), self.top_k, g, g).float()
        # The map is a similarity map; this bias makes mean(CAM) + bias equal the logit.
        bias = logits.gather(1, indices) - cams.mean(dim=(2, 3))
        out = (logits.float(), image.float(), indices.to(torch.int32), cams, bias.float())
        return ConceptOutputs(*(t.cpu().numpy() for t in out))


def load_clip_concepts(
    version_dir: Path | str, top_k: int = CAM_TOP_K, device: torch.device | str = "cpu"
) -> tuple[ClipConcepts, ConceptBank]:
    """``image_concepts/1/``: CLIP's vision tower + the CLIP-encoded concept bank's leaves."""
    version_dir = Path(version_dir)
    bank_path = version_dir / CONCEPT_BANK_FILE
    if not bank_path.is_file():
        raise MissingWeights(f"{bank_path} is missing: run {FETCH_HINT}")
    bank = ConceptBank.load(bank_path)
    clip = ClipEncoder(version_dir / CLIP_SUBDIR, parts=("vision",), device=device)
    return ClipConcepts(clip, bank.embeddings[: bank.n_leaves], top_k=top_k), bank


def load_clip_text(version_dir: Path | str, device: torch.device | str = "cpu") -> ClipEncoder:
    """``text_embedding/1/``: CLIP's text tower."""
    return ClipEncoder(Path(version_dir) / CLIP_SUBDIR, parts=("text",), device=device)

