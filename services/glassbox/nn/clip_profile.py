"""The ``clip`` profile's models: CLIP (concepts, image and text embeddings) and BLIP (captions).

Used only in the models' environment (torch + transformers), by the adapters in
``model_repository_clip/`` and by ``infra/bin/fetch-clip-weights``. Nothing in the default
(``offline``) path imports this module.

Everything loads from a local directory (``local_files_only=True``, ``HF_HUB_OFFLINE``): the
real weights are placed by ``infra/bin/fetch-clip-weights``; the tests place tiny random
configurations with :func:`build_tiny_clip_repository`, through the same loading code.
No transformers image processor is used (they want torchvision or PIL pipelines): images are
resized and normalised here, in torch, from the ``image_mean``/``image_std`` of the model's
``preprocessor_config.json`` when it is there, else CLIP's published statistics.

Same Triton contracts as the offline profile where the model exists (docs/contracts.md,
docs/clip-profile.md):

- ``image_concepts``: ``CONCEPT_LOGITS[c] = s · cos(image, text_c)`` over the concept bank's
  leaves, whose names CLIP's text tower encoded at prepare time (``concept_bank.npz`` next to
  the weights, same rows as the offline bank, CLIP text embeddings instead of MiniLM ones);
  ``POOLED_FEATURES`` = the unit-length image embedding; ``CAMS[k](h, w) = s · cos(patch(h, w),
  text_k)`` on the ViT patch grid (7 × 7 for ViT-B/32 at 224) and ``CAM_BIAS[k] = logit_k −
  mean(CAMS[k])``. **For CLIP the map is a text-to-patch similarity map, not a decomposition of
  the score**: the bias is chosen so that ``mean(CAM) + bias == logit`` holds exactly, which
  keeps the contract's arithmetic, but the bias is not a classifier bias and the map does not
  add up to the logit the way MobileNetV2's CAM does.
- ``text_embedding``: the unit-length CLIP text embedding (``projection_dim``; 512 for B/32).
- ``caption`` (new): a BLIP caption, split into noun phrases; each phrase gets a CLIP
  text-to-patch similarity map and a grounded flag (max patch similarity ≥ a threshold).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from glassbox.concepts import ConceptBank

# Placement inside a Triton repository (model_repository_clip/ or a test copy of it).
CLIP_SUBDIR = "clip"
BLIP_SUBDIR = "blip"
CONCEPT_BANK_FILE = "concept_bank.npz"
CLIP_HOME = Path("image_concepts") / "1" / CLIP_SUBDIR  # the one real copy of CLIP
CLIP_LINKS = (Path("text_embedding") / "1" / CLIP_SUBDIR, Path("caption") / "1" / CLIP_SUBDIR)
BLIP_HOME = Path("caption") / "1" / BLIP_SUBDIR
BANK_HOME = Path("image_concepts") / "1" / CONCEPT_BANK_FILE
CLIP_HUB_ID = "openai/clip-vit-base-patch32"
BLIP_HUB_ID = "Salesforce/blip-image-captioning-base"
FETCH_HINT = "infra/bin/fetch-clip-weights (see docs/clip-profile.md)"

# CLIP's published normalisation (BLIP uses the same numbers).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CAM_TOP_K = 16
MAX_TEXT_TOKENS = 77
BANK_SUFFIX = "clip"
CONCEPT_PROMPT = "a photo of a {name}."
PHRASE_PROMPT = "a photo of {phrase}."
MAX_PHRASES = 8
GROUNDING_THRESHOLD = 0.2  # cosine; a placeholder, never calibrated here (no real weights)
MAX_NEW_TOKENS = 30


class MissingWeights(FileNotFoundError):
    """A model directory the clip profile needs is not there; the message says how to fix it."""


def _offline() -> None:
    # Loading must never reach a hub, whatever the caller's environment says.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _require_model_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not (path / "config.json").is_file():
        raise MissingWeights(f"no {what} model in {path} (config.json missing): run {FETCH_HINT}")
    return path


def _image_stats(model_dir: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
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


def _as_batch(images: np.ndarray) -> torch.Tensor:
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

        _offline()
        model_dir = _require_model_dir(Path(model_dir), "CLIP")
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
        self.preprocess = ImageInput(self.image_size, *_image_stats(model_dir)).to(self.device)

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
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_tensors="pt",
        ).to(self.device)
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
        image, patches = self.clip.image_embeddings(_as_batch(images))
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

        _offline()
        blip_dir = _require_model_dir(Path(blip_dir), "BLIP")
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(blip_dir, local_files_only=True)
        self.model = BlipForConditionalGeneration.from_pretrained(blip_dir, local_files_only=True)
        self.model = self.model.to(self.device).eval()
        size = int(self.model.config.vision_config.image_size)
        self.preprocess = ImageInput(size, *_image_stats(blip_dir)).to(self.device)
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
        batch = _as_batch(images)
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


# -- loading, as the Triton adapters do it ----------------------------------------------------


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


def load_captioner(
    version_dir: Path | str, device: torch.device | str = "cpu", **kwargs
) -> Captioner:
    """``caption/1/``: BLIP in ``blip/``, CLIP (for grounding) in ``clip/``."""
    version_dir = Path(version_dir)
    clip = ClipEncoder(version_dir / CLIP_SUBDIR, device=device)
    return Captioner(version_dir / BLIP_SUBDIR, clip, device=device, **kwargs)


# -- preparing a repository: weights placed, concept bank encoded -----------------------------


def clip_concept_bank(clip: ClipEncoder, source: ConceptBank, batch_size: int = 256) -> ConceptBank:
    """The same concepts (rows, names, hierarchy) as ``source``, embedded by CLIP's text tower
    from ``"a photo of a {name}."``, so ConSE vectors and queries share CLIP's text space."""
    texts = [CONCEPT_PROMPT.format(name=name) for name in source.names]
    parts = [clip.encode(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return replace(
        source,
        embeddings=np.concatenate(parts).astype(np.float32),
        version=f"{source.version}+{BANK_SUFFIX}-{clip.dim}d",
    )


def source_concept_bank(offline_bank: Path | str | None = None) -> ConceptBank:
    """The offline profile's bank (names, glosses, hierarchy), placed by ``glassbox.prepare``;
    without it, the bare ImageNet classes from Debian's darknet labels (no broader concepts)."""
    from glassbox import concepts

    if offline_bank is not None and Path(offline_bank).is_file():
        return ConceptBank.load(offline_bank)
    if not (concepts.IMAGENET_LABELS.is_file() and concepts.IMAGENET_NAMES.is_file()):
        raise MissingWeights(
            f"no concept bank at {offline_bank} and no darknet labels in {concepts.DARKNET_DATA}:"
            " run `python -m glassbox.prepare` (models' env) or install Debian's darknet"
        )
    classes = concepts.read_imagenet_classes(concepts.IMAGENET_LABELS, concepts.IMAGENET_NAMES)
    return ConceptBank(
        wnids=tuple(w for w, _ in classes),
        names=tuple(n for _, n in classes),
        glosses=("",) * len(classes),
        embeddings=np.zeros((len(classes), 1), dtype=np.float32),
        version="imagenet1k-names",
    )


def _copy_dir(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".cache", "*.lock", ".git*"))
    if dst.is_symlink() or dst.is_file():
        dst.unlink()
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def _link_dir(target: Path, link: Path) -> None:
    """``link`` → ``target`` as a relative symlink (a copy where links are not possible)."""
    if link.is_symlink() or link.is_file():
        link.unlink()
    shutil.rmtree(link, ignore_errors=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    except OSError:
        shutil.copytree(target, link)


def place_weights(
    repository: Path | str,
    clip_src: Path | str,
    blip_src: Path | str,
    offline_bank: Path | str | None = None,
) -> ConceptBank:
    """Copy CLIP and BLIP into a clip-profile Triton repository and encode its concept bank.

    CLIP lives once in ``image_concepts/1/clip``; ``text_embedding/1/clip`` and
    ``caption/1/clip`` link to it. BLIP goes to ``caption/1/blip``. The concept bank
    (``image_concepts/1/concept_bank.npz``) is ``offline_bank`` re-embedded by CLIP. The
    fetch script and the tiny test builder both call this, so tests exercise the real path."""
    repository = Path(repository)
    clip_src, blip_src = _require_model_dir(Path(clip_src), "CLIP"), Path(blip_src)
    _require_model_dir(blip_src, "BLIP")
    (repository / CLIP_HOME).parent.mkdir(parents=True, exist_ok=True)
    if (repository / CLIP_HOME).resolve() != clip_src.resolve():
        _copy_dir(clip_src, repository / CLIP_HOME)
    for link in CLIP_LINKS:
        _link_dir(repository / CLIP_HOME, repository / link)
    if (repository / BLIP_HOME).resolve() != blip_src.resolve():
        _copy_dir(blip_src, repository / BLIP_HOME)
    clip = ClipEncoder(repository / CLIP_HOME, parts=("text",))
    bank = clip_concept_bank(clip, source_concept_bank(offline_bank))
    tmp = repository / BANK_HOME.with_name(CONCEPT_BANK_FILE + ".tmp")
    bank.save(tmp)
    tmp.replace(repository / BANK_HOME)
    return bank


# -- tiny random configurations, for tests ----------------------------------------------------

TINY_SEED = 0
_TINY_WORDS = (
    "a an the of with and on in at near under behind next to photo picture dog cat man woman "
    "person people bench grass table street car bird sitting standing riding red white black"
).split()


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's byte-to-unicode table: the 256 symbols a byte-level BPE starts from."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += list(range(ord("®"), ord("ÿ") + 1))
    extra = [b for b in range(256) if b not in keep]
    return [chr(c) for c in keep] + [chr(256 + i) for i in range(len(extra))]


def tiny_clip_tokenizer():
    """A byte-level BPE CLIP tokenizer with no merges (every character its own token)."""
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    tok.model_max_length = MAX_TEXT_TOKENS
    return tok


def tiny_blip_tokenizer():
    """A WordPiece (BERT) tokenizer over a few dozen words and single characters, with BLIP's
    ``[DEC]`` beginning-of-caption token."""
    from transformers import BertTokenizer

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,'-")
    vocab: dict[str, int] = {}
    for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *("##" + c for c in chars)]:
        vocab.setdefault(t, len(vocab))
    for w in _TINY_WORDS:
        vocab.setdefault(w, len(vocab))
    tok = BertTokenizer(vocab=vocab)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.model_max_length = 64
    return tok


def save_tiny_clip(dst: Path | str, projection_dim: int = 512) -> Path:
    """A randomly initialised CLIP (hidden 32, 2 layers, ViT patch 32 at 224: a 7 × 7 grid,
    ``projection_dim`` 512 as ViT-B/32) and its tokenizer, saved with ``save_pretrained``."""
    from transformers import CLIPConfig, CLIPModel

    dst = Path(dst)
    tok = tiny_clip_tokenizer()
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = CLIPConfig(
        text_config={
            **layers,
            "num_attention_heads": 2,
            "vocab_size": len(tok),
            "max_position_embeddings": MAX_TEXT_TOKENS,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={**layers, "num_attention_heads": 2, "image_size": 224, "patch_size": 32},
        projection_dim=projection_dim,
    )
    torch.manual_seed(TINY_SEED)
    CLIPModel(config).eval().save_pretrained(dst)
    tok.save_pretrained(dst)
    (dst / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": list(CLIP_MEAN), "image_std": list(CLIP_STD)})
    )
    return dst


def save_tiny_blip(dst: Path | str, image_size: int = 384) -> Path:
    """A randomly initialised BLIP captioner (hidden 32, 2 layers, ViT patch 32 at 384) and
    its tokenizer, saved with ``save_pretrained``."""
    from transformers import BlipConfig, BlipForConditionalGeneration

    dst = Path(dst)
    tok = tiny_blip_tokenizer()
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    config = BlipConfig(
        text_config={
            **layers,
            "num_attention_heads": 2,
            "vocab_size": len(tok),
            "encoder_hidden_size": 32,
            "max_position_embeddings": 64,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.sep_token_id,
            "sep_token_id": tok.sep_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={
            **layers,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 32,
        },
        projection_dim=32,
    )
    torch.manual_seed(TINY_SEED + 1)
    BlipForConditionalGeneration(config).eval().save_pretrained(dst)
    tok.save_pretrained(dst)
    return dst


def clip_repository_template() -> Path:
    """``model_repository_clip/`` of this checkout (configs and adapters, no weights)."""
    return Path(__file__).resolve().parents[3] / "model_repository_clip"


def build_tiny_clip_repository(
    dst: Path | str,
    offline_bank: Path | str | None = None,
    template: Path | str | None = None,
) -> Path:
    """A copy of ``model_repository_clip`` (its real ``config.pbtxt`` files and adapters) in
    ``dst``, with tiny random CLIP and BLIP placed by :func:`place_weights`. The tiny models
    produce the real contract's dims (7 × 7 grid, 512-d embeddings, 1000 concepts), so the
    configs are copied unchanged."""
    dst = Path(dst)
    template = Path(template) if template else clip_repository_template()
    dst.mkdir(parents=True, exist_ok=True)
    for model in ("image_concepts", "text_embedding", "caption"):
        (dst / model / "1").mkdir(parents=True, exist_ok=True)
        shutil.copy2(template / model / "config.pbtxt", dst / model / "config.pbtxt")
        shutil.copy2(template / model / "1" / "model.py", dst / model / "1" / "model.py")
    staging = dst / ".tiny-src"
    shutil.rmtree(staging, ignore_errors=True)
    clip_src = save_tiny_clip(staging / "clip")
    blip_src = save_tiny_blip(staging / "blip")
    place_weights(dst, clip_src, blip_src, offline_bank=offline_bank)
    shutil.rmtree(staging, ignore_errors=True)
    return dst


def main(argv: list[str] | None = None) -> int:
    """``python -m glassbox.nn.clip_profile build-tiny DST [--offline-bank NPZ]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m glassbox.nn.clip_profile")
    sub = parser.add_subparsers(dest="command", required=True)
    tiny = sub.add_parser("build-tiny", help="a clip repository with tiny random models, for tests")
    tiny.add_argument("dst", type=Path)
    tiny.add_argument("--offline-bank", type=Path, default=None)
    args = parser.parse_args(argv)
    path = build_tiny_clip_repository(args.dst, offline_bank=args.offline_bank)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
