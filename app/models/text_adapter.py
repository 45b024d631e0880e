"""A character network written as the course writes it, made to speak the poem decoder's vocabulary and state.

The course's network (9.4) is `forward(ids, hx=None) -> (logits, hx)` over a vocabulary of the poems'
characters plus `<UNK>`, punctuation stripped; its `generate_poem` seeds it with the start character (or
`<UNK>`) and pastes "，"/"。" into the text without feeding them. The decoder that serves poems
(app/predictors/poem_decoding.py) feeds `<bos>` first and every line's mark, over a vocabulary that starts with
the four special tokens, and keeps one state tensor `[layers, rows, width]` per poem.

This module is scripted around the student's network (app/models/import_text.py) so the folder serves it
unchanged: `<bos>` is fed as the network's own start token; a token the network never saw (a line mark its
vocabulary lacks) is *passed over* — its step answers what the step before it answered and leaves the state as
it was, exactly as the course's generation treats punctuation. To answer again without the step before, the
state also carries the previous state and the last token fed: `[2·layers + 1, rows, width]`, still split and
joined along rows as the scheduler does.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

UNSERVED_LOGIT = -1e9  # the tokens the network cannot predict (its vocabulary lacks them): never drawn


class CourseCharModel(nn.Module):
    def __init__(self, network: nn.Module, feed: Tensor, spread_from: Tensor, spread_to: Tensor, served: int,
                 layers: int, width: int, time_major: bool) -> None:  # fmt: skip
        super().__init__()
        self.network = network
        self.register_buffer("feed", feed)  # served id → the network's id; -1: passed over
        self.register_buffer("spread_from", spread_from)  # the network's ids of served tokens …
        self.register_buffer("spread_to", spread_to)  # … and their served ids
        self.served = served
        self.layers = layers
        self.width = width
        self.time_major = time_major  # nn.RNN's default layout: [steps, rows]
        self.unserved = UNSERVED_LOGIT

    @torch.jit.export
    def initial_hidden(self, n: int) -> Tensor:
        """The course's `hx=None`: zeros (and no previous step)."""
        return torch.zeros(2 * self.layers + 1, n, self.width, device=self.feed.device)

    def forward(self, tokens: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """tokens [rows, steps] of the served vocabulary → (logits [rows, steps, served], the new state)."""
        state, previous = hidden[: self.layers], hidden[self.layers : 2 * self.layers]
        last = hidden[2 * self.layers, :, 0].long()
        answers: list[Tensor] = []
        for step in range(tokens.shape[1]):
            ids = self.feed[tokens[:, step]]
            passed = ids < 0
            fed = torch.where(passed, last, ids)
            keep = passed.view(1, -1, 1)
            start = torch.where(keep, previous, state)  # a passed token runs the step before again
            logits, after = self._step(fed, start)
            previous = start
            state = torch.where(keep, state, after)
            last = fed
            answers.append(self._spread(logits))
        marker = torch.zeros(1, tokens.shape[0], self.width, dtype=hidden.dtype, device=hidden.device)
        marker[0, :, 0] = last.to(hidden.dtype)  # ids are exact in float32 up to 2**24
        return torch.stack(answers, 1), torch.cat([state, previous, marker])

    def _step(self, ids: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        if self.time_major:
            logits, after = self.network(ids.view(1, -1), hidden)
            return logits[0], after
        logits, after = self.network(ids.view(-1, 1), hidden)
        return logits[:, 0], after

    def _spread(self, logits: Tensor) -> Tensor:
        served = torch.full((logits.shape[0], self.served), self.unserved, dtype=logits.dtype, device=logits.device)
        return served.index_copy(1, self.spread_to, logits.index_select(1, self.spread_from))
