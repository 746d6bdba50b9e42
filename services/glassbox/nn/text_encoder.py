"""all-MiniLM-L6-v2 sentence embeddings with plain transformers (no sentence-transformers).

Reproduces sentence-transformers' pipeline for this model: tokenize (truncating at 256
tokens), BERT, mean pooling over the attention mask, L2 normalisation. Loads only from a local
directory; it never reaches a model hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from glassbox.nn import tokenize

MAX_TOKENS = 256
EMBEDDING_DIM = 384


class TextEncoder:
    def __init__(
        self,
        model_dir: Path | str,
        max_tokens: int = MAX_TOKENS,
        device: torch.device | str = "cpu",
    ):
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no transformers model in {model_dir}")
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_dir, local_files_only=True)
        self.model = self.model.to(self.device).eval()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), 384]`` (CPU numpy), each row of unit length."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = tokenize(self.tokenizer, texts, self.max_tokens, self.device)
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state  # [n, tokens, 384]
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
            embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return embeddings.float().cpu().numpy()
