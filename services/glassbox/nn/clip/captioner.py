"""``caption`` under the clip profile: a BLIP caption, split into noun phrases, each grounded
by CLIP text-to-patch similarity."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from glassbox.nn.clip.encoder import (
    CLIP_SUBDIR,
    ClipEncoder,
    ImageInput,
    as_batch,
    image_stats,
    offline,
    require_model_dir,
)

BLIP_SUBDIR = "blip"
PHRASE_PROMPT = "a photo of {phrase}."
MAX_PHRASES = 8
GROUNDING_THRESHOLD = 0.2  # cosine; a placeholder, never calibrated here (no real weights)
MAX_NEW_TOKENS = 30

_SPLIT = re.compile(
    r"\s*\b(?:in front of|on top of|next to|close to|of|with|and|on|in|at|near|under|over|"
    r"behind|beside|by|from|into|onto|above|below|holding|wearing|while|is|are)\b\s*"
)
_STOP = {"a", "an", "the", "some", "there", "it", "its", "this", "that", "to", "up", "down"}
_ING_NOUNS = set(  # -ing words that are nouns, not verbs that end a phrase
    "building painting ceiling clothing wedding string ring king spring morning evening "
    "sibling pudding icing railing awning stuffing frosting dining living".split()
)


def noun_phrases(caption: str, limit: int = MAX_PHRASES) -> list[str]:
    """Noun phrases of a caption, in order, by a deliberately simple rule: split on
    prepositions and conjunctions ("of", "with", "and", "on", "in", …) and on a later
    ``-ing`` verb ("a man riding a horse" → "a man", "a horse"). Parts made only of articles
    are dropped; duplicates are kept once. Not a parser: it is what the grounding needs."""
    phrases: list[str] = []
    for part in _SPLIT.split(caption.lower().strip().strip(".")):
        words = re.findall(r"[\w'-]+", part)
        chunks, current = [], []
        for word in words:
            if current and word.endswith("ing") and len(word) > 4 and word not in _ING_NOUNS:
                chunks.append(current)
                current = []
            else:
                current.append(word)
        chunks.append(current)
        for chunk in chunks:
            if not chunk or all(w in _STOP for w in chunk):
                continue
            phrase = " ".join(chunk)
            if phrase not in phrases:
                phrases.append(phrase)
    return phrases[:limit]


@dataclass(frozen=True)
class Grounding:
    phrase: str
    map: np.ndarray  # float32 [g, g], cosine between the phrase and each patch
    score: float  # the map's maximum
    grounded: bool  # score >= threshold


class CaptionOutputs(NamedTuple):
    """One batch of ``caption`` outputs, padded to ``max_phrases`` (padding: phrase ``""``,
    zero map, score 0, not grounded)."""

    captions: np.ndarray  # object [N, 1] of bytes
    phrases: np.ndarray  # object [N, M] of bytes
    maps: np.ndarray  # float32 [N, M, g, g]
    scores: np.ndarray  # float32 [N, M]
    grounded: np.ndarray  # bool [N, M]


class Captioner:
    """BLIP captions, grounded phrase by phrase with CLIP text-to-patch similarity."""

    def __init__(
        self,
        blip_dir: Path | str,
        clip: ClipEncoder,
        threshold: float = GROUNDING_THRESHOLD,
        max_phrases: int = MAX_PHRASES,
        max_new_tokens: int = MAX_NEW_TOKENS,
        num_beams: int = 1,
        device: torch.device | str = "cpu",
    ):
        from transformers import AutoTokenizer, BlipForConditionalGeneration

        offline()
        blip_dir = require_model_dir(Path(blip_dir), "BLIP")
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(blip_dir, local_files_only=True)
        self.model = BlipForConditionalGeneration.from_pretrained(blip_dir, local_files_only=True)
        self.model = self.model.to(self.device).eval()
        size = int(self.model.config.vision_config.image_size)
        self.preprocess = ImageInput(size, *image_stats(blip_dir)).to(self.device)
        self.clip = clip
        self.threshold = float(threshold)
        self.max_phrases = int(max_phrases)
        self.generate_kwargs = {"max_new_tokens": int(max_new_tokens), "num_beams": int(num_beams)}

    @torch.inference_mode()
    def captions(self, images: torch.Tensor) -> list[str]:
        pixels = self.preprocess(images.to(self.device))
        ids = self.model.generate(pixel_values=pixels, **self.generate_kwargs)
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [" ".join(t.split()) for t in texts]

    @torch.inference_mode()
    def ground(self, patches: torch.Tensor, phrases: Sequence[str]) -> list[Grounding]:
        """``patches``: one image's unit-length CLIP patch embeddings ``[grid², D]``."""
        if not phrases:
            return []
        text = self.clip.text_embeddings([PHRASE_PROMPT.format(phrase=p) for p in phrases])
        g = self.clip.grid
        maps = (text @ patches.T).reshape(len(phrases), g, g).float().cpu().numpy()
        out = []
        for phrase, m in zip(phrases, maps, strict=True):
            score = float(m.max())
            out.append(Grounding(phrase, m, score, score >= self.threshold))
        return out

    def run(self, images: np.ndarray) -> CaptionOutputs:
        batch = as_batch(images)
        captions = self.captions(batch)
        _, patches = self.clip.image_embeddings(batch)
        n, m, g = len(captions), self.max_phrases, self.clip.grid
        out = CaptionOutputs(
            captions=np.array([[c.encode("utf-8")] for c in captions], dtype=np.object_),
            phrases=np.full((n, m), b"", dtype=np.object_),
            maps=np.zeros((n, m, g, g), dtype=np.float32),
            scores=np.zeros((n, m), dtype=np.float32),
            grounded=np.zeros((n, m), dtype=bool),
        )
        for i, caption in enumerate(captions):
            for j, item in enumerate(self.ground(patches[i], noun_phrases(caption, m))):
                out.phrases[i, j] = item.phrase.encode("utf-8")
                out.maps[i, j] = item.map
                out.scores[i, j] = item.score
                out.grounded[i, j] = item.grounded
        return out


def load_captioner(
    version_dir: Path | str, device: torch.device | str = "cpu", **kwargs
) -> Captioner:
    """``caption/1/``: BLIP in ``blip/``, CLIP (for grounding) in ``clip/``."""
    version_dir = Path(version_dir)
    clip = ClipEncoder(version_dir / CLIP_SUBDIR, device=device)
    return Captioner(version_dir / BLIP_SUBDIR, clip, device=device, **kwargs)

