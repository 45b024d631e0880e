"""The character-level poem language model and its vocabulary.

Poems are encoded as <bos> c1 c2 … cn <eos>, punctuation included, so the model learns where
lines and poems end. The exported TorchScript module has one step function for serving:
`forward(tokens[N, T], hidden) -> (logits[N, T, V], hidden)` plus `initial_hidden(batch)`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
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


class AdaptiveHead(nn.Module):
    """Adaptive softmax over the vocabulary (Grave et al., 2017, "Efficient softmax approximation for GPUs").

    Character frequencies are Zipfian: the 1,000 commonest characters are most of any poem. The head
    scores those directly plus one entry per tail cluster; each rarer cluster gets its own smaller
    projection. Training then runs a tail only on the positions whose target lies in it, which cuts the
    vocabulary projection that dominates a 6,600-way step; `forward` still returns full log-probabilities
    [..., V], so serving, sampling and evaluation treat them as logits (a log-softmax is its own logits).
    """

    def __init__(self, in_features: int, vocab_size: int, cutoffs: list[int], div_value: float = 4.0) -> None:
        super().__init__()
        if not cutoffs or sorted(set(cutoffs)) != list(cutoffs) or cutoffs[0] <= 0 or cutoffs[-1] >= vocab_size:
            raise ValueError(f"cutoffs must increase strictly within (0, {vocab_size}), got {cutoffs}")
        self.bounds: list[int] = [*cutoffs, vocab_size]
        self.shortlist = cutoffs[0]
        self.head = nn.Linear(in_features, self.shortlist + len(cutoffs))
        self.tails = nn.ModuleList()
        for i in range(len(cutoffs)):
            width = max(1, int(in_features // div_value ** (i + 1)))
            self.tails.append(
                nn.Sequential(
                    nn.Linear(in_features, width, bias=False), nn.Linear(width, self.bounds[i + 1] - self.bounds[i])
                )
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        head = torch.log_softmax(self.head(features).float(), dim=-1)
        parts = [head[..., : self.shortlist]]
        for i, tail in enumerate(self.tails):
            cluster = head[..., self.shortlist + i : self.shortlist + i + 1]
            parts.append(cluster + torch.log_softmax(tail(features).float(), dim=-1))
        return torch.cat(parts, dim=-1)

    @torch.jit.unused
    def nll(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood of `targets` [M] given `features` [M, in_features]."""
        head = torch.log_softmax(self.head(features).float(), dim=-1)
        cluster = torch.bucketize(targets, torch.tensor(self.bounds[:-1], device=targets.device), right=True)
        in_head = torch.where(cluster == 0, targets, self.shortlist + cluster - 1)
        total = -head.gather(1, in_head[:, None]).sum()
        for i, tail in enumerate(self.tails):
            rows = (cluster == i + 1).nonzero().squeeze(1)
            if len(rows):
                tail_logp = torch.log_softmax(tail(features[rows]).float(), dim=-1)
                total = total - tail_logp.gather(1, (targets[rows] - self.bounds[i])[:, None]).sum()
        return total


class CharRNN(nn.Module):
    """Embedding → stacked RNN/GRU → a linear layer (or an adaptive softmax) over the vocabulary."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        dropout: float = 0.0,
        adaptive_cutoffs: list[int] | None = None,
    ) -> None:
        super().__init__()
        rnn_class = {"rnn": nn.RNN, "gru": nn.GRU}[cell]
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = rnn_class(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = (
            AdaptiveHead(hidden_size, vocab_size, adaptive_cutoffs)
            if adaptive_cutoffs
            else nn.Linear(hidden_size, vocab_size)
        )

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, hidden = self.rnn(self.embed(tokens), hidden)
        return self.head(self.drop(out)), hidden

    @torch.jit.unused
    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy per target character, each poem from a zero state (training only)."""
        out, _ = self.rnn(self.embed(tokens), self.initial_hidden(len(tokens)))
        features, targets = self.drop(out).flatten(0, 1), targets.flatten()
        if isinstance(self.head, AdaptiveHead):
            return self.head.nll(features, targets) / targets.numel()
        return F.cross_entropy(self.head(features).float(), targets)

    @torch.jit.export
    def initial_hidden(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(self.num_layers, batch_size, self.hidden_size, device=self.embed.weight.device)
