"""The character-level poem language model and its vocabulary.

Poems are encoded as <bos> c1 c2 … cn <eos>, punctuation included, so the model learns where
lines and poems end. The exported TorchScript module has one step function for serving:
`forward(tokens[N, T], hidden) -> (logits[N, T, V], hidden)` plus `initial_hidden(batch)`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch import nn

from app.predictors.poem_tokens import BOS, EOS, PAD, SPECIALS, UNK  # noqa: F401  (serving owns the specials)


class Vocab:
    """Characters by descending frequency after the four special tokens (ties broken by code point)."""

    def __init__(self, tokens: list[str]) -> None:
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}
        self.pad, self.bos, self.eos, self.unk = (self.index[t] for t in SPECIALS)

    @classmethod
    def build(cls, poems: list[str]) -> Vocab:
        counts = Counter(ch for poem in poems for ch in poem)
        return cls(SPECIALS + sorted(counts, key=lambda ch: (-counts[ch], ch)))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, poem: str) -> list[int]:
        return [self.bos, *(self.index.get(ch, self.unk) for ch in poem), self.eos]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.tokens[i] for i in ids if i >= len(SPECIALS))

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "specials": {t: self.index[t] for t in SPECIALS}, "size": len(self.tokens)}


class CharRNN(nn.Module):
    """Embedding → stacked RNN/GRU → linear over the vocabulary."""

    def __init__(
        self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int, cell: str, dropout: float = 0.0
    ) -> None:
        super().__init__()
        rnn_class = {"rnn": nn.RNN, "gru": nn.GRU}[cell]
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = rnn_class(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, hidden = self.rnn(self.embed(tokens), hidden)
        return self.head(self.drop(out)), hidden

    @torch.jit.export
    def initial_hidden(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(self.num_layers, batch_size, self.hidden_size, device=self.head.weight.device)
