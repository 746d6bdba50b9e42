"""Tiny random CLIP and BLIP models and a clip-profile repository built on them, for tests.

No real CLIP or BLIP weights exist offline, so the clip profile's tests
(tests/models/test_clip_profile.py, tests/integration/test_clip_profile_triton.py) run on
these: randomly initialised models saved with ``save_pretrained``, placed by the same
``glassbox.nn.clip.weights.place_weights`` as the real ones. The integration test builds the
repository in the models' environment (the app's has no torch):

    .venv-models/bin/python -m tests.support.clip_tiny build-tiny DST [--offline-bank NPZ]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from glassbox.concepts import ConceptBank
from glassbox.nn.clip.encoder import CLIP_MEAN, CLIP_STD, MAX_TEXT_TOKENS
from glassbox.nn.clip.weights import place_weights

REPO = Path(__file__).resolve().parents[2]

TINY_SEED = 0
# Every tower of the tiny models: hidden size 32, 2 layers of 2 heads.
TINY_LAYERS = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
}
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
    config = CLIPConfig(
        text_config={
            **TINY_LAYERS,
            "vocab_size": len(tok),
            "max_position_embeddings": MAX_TEXT_TOKENS,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={**TINY_LAYERS, "image_size": 224, "patch_size": 32},
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
    config = BlipConfig(
        text_config={
            **TINY_LAYERS,
            "vocab_size": len(tok),
            "encoder_hidden_size": 32,
            "max_position_embeddings": 64,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.sep_token_id,
            "sep_token_id": tok.sep_token_id,
            "pad_token_id": tok.pad_token_id,
        },
        vision_config={
            **TINY_LAYERS,
            "image_size": image_size,
            "patch_size": 32,
        },
        projection_dim=32,
    )
    torch.manual_seed(TINY_SEED + 1)
    BlipForConditionalGeneration(config).eval().save_pretrained(dst)
    tok.save_pretrained(dst)
    return dst


def tiny_bank(path: Path, n: int = 1000) -> Path:
    """A concept bank with the offline bank's layout: ``n`` leaves and two broader rows."""
    names = tuple(f"thing {i}" for i in range(n)) + ("animal", "vehicle")
    members = np.zeros((2, n), dtype=bool)
    members[0, : n // 2] = True
    members[1, n // 2 :] = True
    ConceptBank(
        wnids=tuple(f"n{i:08d}" for i in range(n + 2)),
        names=names,
        glosses=("",) * (n + 2),
        embeddings=np.zeros((n + 2, 4), dtype=np.float32),
        version="tiny-test-bank",
        members=members,
    ).save(path)
    return path


def clip_repository_template() -> Path:
    """``model_repository_clip/`` of this checkout (configs and adapters, no weights)."""
    return REPO / "model_repository_clip"


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
    """``python -m tests.support.clip_tiny build-tiny DST [--offline-bank NPZ]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.support.clip_tiny")
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
