"""The one poem decoder: one character at a time, each within what its position allows, with a look-ahead before
each rhyme.

A poem's form gives each position a symbol: any character (a free poem has only these), level (平), oblique (仄),
or a rhyme. Every line ends on a forced "，" or "。" fed back to the model, so the shape holds whatever the weights
are. With no rules (rhyme none, tones none) every content position is "any": sampling is then the plain top-k at
the request's temperature among Chinese characters, no character twice in a line.

With rules, every character is sampled only among those its position allows: the tone the pattern asks for (平/仄),
the rhyme group at a rhyme position, no rhyme character twice in a poem. Forcing the last character alone gives
lines that swerve at the end, so the character *before* a rhyme is chosen with a one-step beam: LOOKAHEAD candidates
for it go through the model in one batch, and each is weighed by its own probability times the probability mass the
model then puts on the characters allowed to end the line; one is drawn in proportion (at the request's
temperature). The line leads to its rhyme instead of being bent at the last character — for the price of one batched
step per rhyming line (whole candidate lines, tried first, cost each line 4 times over: on a CPU a batch of 4 costs
nearly 4 single steps, because the vocabulary projection dominates).

Which rhyme group the poem uses is the model's choice: at the first rhyme position any level character may end
the line, and that character sets the group. Under tone patterns the first line starts under every standard
pattern that the forced characters (start, acrostic heads) allow; each character narrows them to those it fits,
so the model's first characters pick 平起 or 仄起, and its first line's last character whether that line rhymes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from app.predictors.poem_tokens import BOS
from app.predictors.rhymes import ANY, LEVEL, OBLIQUE, RhymeTable, line_pattern, standard_forms

LOOKAHEAD = 4  # candidates for the character before a rhyme, weighed by how well the model can then rhyme
RHYME = "韵"  # a pattern's last symbol at a rhyme position: level, and in the poem's group once it has one


class RhymeInputError(ValueError):
    """A request no pattern can satisfy (a forced character of the wrong tone); the message says why."""


@dataclass(frozen=True)
class Form:
    name: str
    patterns: tuple[str, ...]  # one per line: 平 / 仄 / * per character, the last one 韵 / 仄 / *


def poem_forms(line_num: int, length: int, tones: str, rhyme: str = "pingshui") -> list[Form]:
    """The patterns a poem may follow. With neither rhyme nor tones, any character anywhere. Without tone rules
    only the line ends are fixed: even lines rhyme, odd lines after the first end oblique, and the first line
    ends freely (on a level character it rhymes)."""
    if tones == "none" and rhyme == "none":
        return [Form("free", tuple(ANY * length for _ in range(line_num)))]
    if tones == "none":
        free = ANY * (length - 1)
        return [
            Form("free", tuple(free + (RHYME if line % 2 else OBLIQUE if line else ANY) for line in range(line_num)))
        ]
    forms = []
    for name, types in standard_forms(line_num, length).items():
        patterns = [line_pattern(t, length, loose=tones == "loose") for t in types]
        forms.append(Form(name, tuple(p[:-1] + (RHYME if p[-1] == LEVEL else p[-1]) for p in patterns)))
    return forms


def conflict(form: Form, forced: dict[tuple[int, int], str], table: RhymeTable) -> str | None:
    """Why a forced character cannot stand where the form puts it, or None when it fits."""
    for (line, col), char in sorted(forced.items()):
        symbol = form.patterns[line][col]
        need = LEVEL if symbol == RHYME else symbol
        if need != ANY and table.tone(char) != need:
            have = {LEVEL: "level (平)", OBLIQUE: "oblique (仄)", None: "of unknown tone"}[table.tone(char)]
            wanted = "level (平)" if need == LEVEL else "oblique (仄)"
            return f"line {line + 1}, character {col + 1} must be {wanted} but {char!r} is {have}"
    return None


@dataclass(frozen=True)
class Step:
    """What a decoding asks of the model: feed `ids` [rows, tokens] after `hidden` [layers, rows, width].

    A decoding (PoemDecoder.decode) yields these between its characters and is sent back the answer:
    (the logits after the last token [rows, vocab], the new hidden). Whoever drives it may answer alone
    (`run`) or stack the Steps of many poems into one forward pass (app/models/poem_scheduler.py).
    """

    ids: torch.Tensor
    hidden: torch.Tensor

    @property
    def rows(self) -> int:
        return self.ids.shape[0]


@dataclass(frozen=True)
class Sample:
    """What a decoding asks for a character: one of `wanted` not yet `used` in the line, drawn from the
    `top_k` of `logits` at `temperature` with the poem's own `generator`; answered with the token id. Many
    poems' Samples are drawn together by PoemDecoder.sample, which gives each row what it gives that row
    alone."""

    logits: torch.Tensor  # [1, vocab]: a row of a Step's answer as it came (no indexing per poem)
    wanted: torch.Tensor  # [vocab] bool: what the position allows
    used: tuple[int, ...]  # the tokens the line already holds (a mask is built once for all rows)
    temperature: float
    top_k: int
    generator: torch.Generator


StepAnswer = tuple[torch.Tensor, torch.Tensor]
Decoding = Generator["str | Step | Sample", "StepAnswer | int | None", None]
Lookahead = Generator[Step, StepAnswer, tuple[int, torch.Tensor, torch.Tensor]]  # (token, its logits, its hidden)


def run(
    decoding: Decoding,
    step: Callable[[torch.Tensor, torch.Tensor], StepAnswer],
    sample: Callable[[list[Sample]], list[int]],
) -> Iterator[str]:
    """A decoding driven alone: each Step answered at once by `step`, each Sample by `sample`; yields its
    characters."""
    answer: StepAnswer | int | None = None
    while True:
        try:
            item = decoding.send(answer)
        except StopIteration:
            return
        if isinstance(item, Step):
            answer = step(item.ids, item.hidden)
        elif isinstance(item, Sample):
            answer = sample([item])[0]
        else:
            answer = None
            yield item


def constrained(spec: Any) -> bool:
    """Whether a spec asks for any rule beyond the shape (a rhyme table or tone patterns)."""
    return spec.rhyme != "none" or spec.tones != "none"


class PoemDecoder:
    """Writes a poem of an exact shape, under a rhyme table and tone patterns when asked (module docstring)."""

    def __init__(self, model: Any, tokens: list[str], index: dict[str, int], allowed: torch.Tensor,
                 device: torch.device, tables: dict[str, RhymeTable]) -> None:  # fmt: skip
        self.model, self.tokens, self.index, self.allowed = model, tokens, index, allowed
        self.device, self.tables = device, tables
        self._masks = {name: self._table_masks(table) for name, table in tables.items()}
        self._free = {ANY: allowed}  # a poem without rules needs no table
        self._allowed_count = int(allowed.sum())

    def _table_masks(self, table: RhymeTable) -> dict[str, Any]:
        def mask(chars) -> torch.Tensor:
            ids = torch.tensor([self.index[c] for c in chars if c in self.index], dtype=torch.long)
            return torch.zeros(len(self.tokens), dtype=torch.bool).index_fill_(0, ids, True)

        level = mask(table.groups_of) & self.allowed
        oblique = (mask(table.oblique) if table.oblique is not None else ~level) & self.allowed
        classes = [mask(c for c, g in table.classes_of.items() if rhyme_class in g) & self.allowed
                   for rhyme_class in range(table.class_count)]  # fmt: skip
        return {LEVEL: level, OBLIQUE: oblique, ANY: self.allowed, "classes": classes}

    def tone_table(self, rhyme: str) -> str:
        return rhyme if rhyme != "none" else "pingshui"  # tone rules without rhyme still need 平仄

    def feasible_forms(self, spec: Any, forced: dict[tuple[int, int], str]) -> list[Form]:
        """The forms that fit the forced characters; RhymeInputError naming the conflicts when none does."""
        forms = poem_forms(spec.line_num, spec.line_length, spec.tones, spec.rhyme)
        if not constrained(spec):
            return forms  # any character fits "any"
        if self.tone_table(spec.rhyme) not in self.tables:
            raise RhymeInputError("this poem model was loaded without rhyme tables; use rhyme='none', tones='none'")
        table = self.tables[self.tone_table(spec.rhyme)]
        reasons = {form.name: conflict(form, forced, table) for form in forms}
        fitting = [form for form in forms if reasons[form.name] is None]
        if not fitting:
            detail = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
            free = "1st, 3rd and 5th" if spec.line_length == 7 else "1st and 3rd"  # never the last (rhymes.py)
            hint = f" (tones='loose' frees the {free} characters of a line)" if spec.tones == "strict" else ""
            raise RhymeInputError(f"no standard {spec.tones} tone pattern fits the given characters{hint}: {detail}")
        return fitting

    def decode(self, spec: Any, forced_chars: dict[tuple[int, int], str], marks: tuple[int, int],
               generator: torch.Generator) -> Decoding:  # fmt: skip
        """Yields the poem's characters and marks, and a Step whenever it needs the model (see Step)."""
        forms = self.feasible_forms(spec, forced_chars)
        masks = self._masks[self.tone_table(spec.rhyme)] if constrained(spec) else self._free
        rhyme_table = self.tables.get(spec.rhyme)
        forced = {key: self.index[char] for key, char in forced_chars.items()}
        hidden = self.model.initial_hidden(1).to(self.device)
        logits = torch.empty(0)
        pending = [self.index[BOS]]  # decided but not yet fed: fed together in one step when logits are needed
        poem_state = _PoemState(rhyme_class=None, used_rhymes=torch.zeros(len(self.tokens), dtype=torch.bool))
        for line in range(spec.line_num):
            line_used: list[int] = []
            for col in range(spec.line_length):
                symbols = {form.patterns[line][col] for form in forms}
                if (line, col) in forced:
                    token = forced[(line, col)]
                    pending.append(token)
                else:
                    if pending:
                        logits, hidden = yield Step(torch.tensor([pending]), hidden)
                    # "Any character" needs no union of masks: the commonest case (every position of a free poem).
                    wanted = masks[ANY] if symbols == {ANY} else self._allowed_for(symbols, masks, poem_state)
                    ends = {form.patterns[line][-1] for form in forms}
                    if col == spec.line_length - 2 and ends == {RHYME} and (line, col + 1) not in forced:
                        end_mask = self._allowed_for(ends, masks, poem_state)
                        token, logits, hidden = yield from self._lookahead(logits, hidden, wanted, end_mask,
                                                                           line_used, spec, generator)  # fmt: skip
                        pending = []
                    else:
                        token = yield Sample(logits, wanted, tuple(line_used), spec.temperature, spec.top_k,
                                             generator)  # fmt: skip
                        pending = [token]
                forms = [form for form in forms if self._fits(form.patterns[line][col], token, masks)]
                line_used.append(token)
                last = col == spec.line_length - 1
                if last and rhyme_table is not None and self._ends_rhyme(forms, line, token, masks):
                    poem_state.used_rhymes[token] = True
                    if poem_state.rhyme_class is None:
                        poem_state.rhyme_class = rhyme_table.classes_of[self.tokens[token]][0]
                yield self.tokens[token]
            mark = marks[1] if line % 2 or line == spec.line_num - 1 else marks[0]
            pending.append(mark)
            yield self.tokens[mark]

    def _allowed_for(self, symbols: set[str], masks: dict[str, Any], state: _PoemState) -> torch.Tensor:
        allowed = torch.zeros(len(self.tokens), dtype=torch.bool)
        for symbol in symbols:
            allowed |= self._symbol_mask(symbol, masks, state)
        return allowed

    def _symbol_mask(self, symbol: str, masks: dict[str, Any], state: _PoemState) -> torch.Tensor:
        if symbol != RHYME:
            return masks[symbol]
        rhyming = masks["classes"][state.rhyme_class] if state.rhyme_class is not None else masks[LEVEL]
        unused = rhyming & ~state.used_rhymes
        return unused if unused.any() else rhyming  # a small group used up: repeating a rhyme beats breaking it

    def _fits(self, symbol: str, token: int, masks: dict[str, Any]) -> bool:
        if symbol == ANY:  # every token a poem can hold is a Chinese character: "any" needs no look-up
            return True
        return bool(masks[LEVEL if symbol == RHYME else symbol][token])

    def _ends_rhyme(self, forms: list[Form], line: int, token: int, masks: dict[str, Any]) -> bool:
        """The line's last character is a rhyme: its pattern says so, or (a free first line) it is level."""
        return any(form.patterns[line][-1] in (RHYME, ANY) for form in forms) and bool(masks[LEVEL][token])

    def sample(self, samples: list[Sample]) -> list[int]:
        """One token per Sample: among its allowed tokens (all Chinese characters when none is left), the top_k
        at its temperature, drawn with its generator. Rows are computed together — the division, the masking,
        the top-k of every row with the same k in one call each — and each row's answer is what it would be
        alone: every step is row by row, and each row's draw uses only its own generator.

        The draw is the one torch.multinomial makes for one sample (Gumbel-max: the argmax of p / q with q
        exponential, q drawn from the row's generator), written out so that only the drawing of q is a call
        per row; tests/models/test_poem_scheduler.py checks it against torch.multinomial."""
        if len(samples) == 1:
            return [self._sample_one(samples[0])]
        logits = torch.cat([s.logits for s in samples]).float().cpu()  # drawn on the CPU: the same anywhere
        allowed = torch.stack([s.wanted for s in samples])
        used = [(row, token) for row, s in enumerate(samples) for token in s.used]
        if used:
            rows, tokens = zip(*used, strict=True)
            allowed[list(rows), list(tokens)] = False
        counts = allowed.sum(dim=1).tolist()
        for row in (row for row, count in enumerate(counts) if count == 0):
            allowed[row], counts[row] = self.allowed, self._allowed_count  # every allowed character already used
        temperatures = torch.tensor([[s.temperature] for s in samples], dtype=logits.dtype)
        scores = (logits / temperatures).masked_fill_(~allowed, float("-inf"))
        rows_by_k: dict[int, list[int]] = {}
        for row, (s, count) in enumerate(zip(samples, counts, strict=True)):
            rows_by_k.setdefault(min(s.top_k, count), []).append(row)
        drawn = [0] * len(samples)
        for k, rows in rows_by_k.items():
            top, ids = (scores if len(rows) == len(samples) else scores[rows]).topk(k)
            probabilities = torch.softmax(top, dim=-1)
            noise = torch.empty_like(probabilities)
            for j, row in enumerate(rows):
                noise[j].exponential_(generator=samples[row].generator)
            picks = ids.gather(1, (probabilities / noise).argmax(dim=1, keepdim=True)).view(-1).tolist()
            for row, token in zip(rows, picks, strict=True):
                drawn[row] = token
        return drawn

    def _sample_one(self, sample: Sample) -> int:
        """`sample` for one row, in as few tensor calls as it can be: each gives the interpreter lock back and
        must win it again, which under a busy event loop costs up to a switch interval (5 ms) every time."""
        allowed = without(sample.wanted, sample.used)
        count = int(allowed.sum())
        if count == 0:
            allowed, count = self.allowed, self._allowed_count
        scores = (sample.logits[0].float().cpu() / sample.temperature).masked_fill(~allowed, float("-inf"))
        top, ids = scores.topk(min(sample.top_k, count))
        return int(ids[torch.multinomial(torch.softmax(top, dim=-1), 1, generator=sample.generator)])

    def _lookahead(self, logits: torch.Tensor, hidden: torch.Tensor, wanted: torch.Tensor, end_mask: torch.Tensor,
                   line_used: list[int], spec: Any, generator: torch.Generator) -> Lookahead:  # fmt: skip
        """The character before a rhyme: LOOKAHEAD candidates in one batch, drawn by p(candidate) × p(rhyme after)."""
        allowed = without(wanted, line_used)
        if not allowed.any():
            allowed = self.allowed
        probabilities = torch.softmax(logits[0].float().cpu(), dim=-1)
        scores = (logits[0].float().cpu() / spec.temperature).masked_fill(~allowed, float("-inf"))
        top, ids = scores.topk(min(spec.top_k, int(allowed.sum())))
        count = min(LOOKAHEAD, len(ids))
        candidates = ids[torch.multinomial(torch.softmax(top, dim=-1), count, replacement=False, generator=generator)]
        next_logits, next_hidden = yield Step(candidates.view(count, 1), hidden.repeat_interleave(count, dim=1))
        after = torch.softmax(next_logits.float().cpu(), dim=-1)
        ending = without(end_mask, line_used)
        mass = (after * ending).sum(dim=1) - after[torch.arange(count), candidates] * ending[candidates]  # not itself
        # In logs: at a temperature of 0.05 the weights, raised to the 20th power, would underflow to zero.
        weight = torch.softmax((probabilities[candidates] * mass).clamp_min(1e-30).log() / spec.temperature, dim=0)
        pick = int(torch.multinomial(weight, 1, generator=generator))
        return int(candidates[pick]), next_logits[pick : pick + 1], next_hidden[:, pick : pick + 1].contiguous()


def without(mask: torch.Tensor, tokens: tuple[int, ...] | list[int]) -> torch.Tensor:
    """`mask` with `tokens` switched off (a copy; the mask itself is shared between poems)."""
    if not tokens:
        return mask
    mask = mask.clone()
    mask[list(tokens)] = False
    return mask


@dataclass
class _PoemState:
    rhyme_class: int | None  # the poem's rhyme class (RhymeTable.classes_of), once its first rhyme is written
    used_rhymes: torch.Tensor  # rhyme characters already used (bool over the vocabulary)


def rhyme_report(table: RhymeTable, lines: list[str]) -> tuple[str | None, list[bool]]:
    """The poem's rhyme group (the one most even lines end in) and, per line, whether its last character rhymes."""
    ends = [line[-2] for line in lines]
    votes: dict[int, int] = {}
    for char in ends[1::2]:
        for group in table.groups_of.get(char, ()):
            votes[group] = votes.get(group, 0) + 1
    if not votes:
        return None, [False] * len(lines)
    group = max(sorted(votes), key=lambda g: votes[g])
    return table.group_names[group], [table.rhymes(char, group) for char in ends]
