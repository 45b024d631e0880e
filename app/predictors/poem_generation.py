"""Tang-style poems of an exact shape from the character model (training/poem_model.py).

The model writes free text; a 绝句 or 律诗 has a fixed shape. Instead of sampling freely and hoping (the course's
`generate_poem` counts characters and pastes punctuation in, so the model never sees it), every content position is
sampled only among Chinese characters and every line end is *forced* to "，" or "。" and fed back to the model, so its
state sees the same text format it was trained on. The shape therefore holds whatever the weights are. One decoder
writes every poem (app/predictors/poem_decoding.py): a free one is a poem whose positions all allow any character.

`stream(spec)` yields the characters of the lines, punctuation included, one at a time; `assemble` turns those
characters into the answer's `poem` (a "\n" after each couplet's "。": presentation, not part of the stream) and
`lines`. The request's limits (line counts, temperature, seed range) belong to its schema (app/schemas/poem.py);
the generator checks only what a schema cannot know: the vocabulary and the tone patterns.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from types import ModuleType
from typing import Any

import torch

from app.core.errors import InvalidInput
from app.predictors.poem_decoding import (
    Decoding,
    PoemDecoder,
    RhymeInputError,
    Sample,
    StepAnswer,
    rhyme_report,
    run,
)
from app.predictors.poem_tokens import BOS, SPECIALS
from app.predictors.rhymes import RhymeTable

COMMA, PERIOD = "，", "。"
SEED_LIMIT = 2**32  # fresh seeds stay well inside JSON's exact-integer range so a browser can send them back


class PoemInputError(InvalidInput):
    """A request the generator cannot satisfy; `unknown_characters` (in the answer) lists the offending characters
    when the reason is characters the model cannot write, so clients need not parse the message."""

    def __init__(self, message: str, unknown: list[str] | None = None) -> None:
        extra = {"unknown_characters": list(unknown)} if unknown else {}
        super().__init__(message, **extra)
        self.unknown = list(unknown or [])


@dataclass(frozen=True)
class PoemSpec:
    """A poem as the generator takes it (app/inference/poems.py resolves a request into one).

    Checked here only for what would make decoding itself inconsistent: forced characters that do not fit.
    """

    start: str = ""  # characters that begin the poem (may be empty)
    acrostic: str | None = None  # one head character per line (藏头诗) instead of start
    line_num: int = 4  # lines (句) as poets count them: 4 = 绝句, 8 = 律诗 (the course counted couplets)
    line_length: int = 7  # characters per line, punctuation excluded
    temperature: float = 0.8
    top_k: int = 20
    seed: int | None = None
    rhyme: str = "none"  # or a rhyme table: "pingshui" (平水韵) or "xinyun" (中华新韵)
    tones: str = "none"  # or "loose" / "strict": the 平仄 patterns of regulated verse

    def __post_init__(self) -> None:
        if self.start and self.acrostic is not None:
            raise PoemInputError("give either start or acrostic, not both")
        if len(self.start) > self.line_length:
            raise PoemInputError(
                f"start has {len(self.start)} characters but a line has only {self.line_length}; "
                "start must fit in the first line"
            )
        if self.acrostic is not None and len(self.acrostic) != self.line_num:
            raise PoemInputError(
                f"acrostic has {len(self.acrostic)} characters but the poem has {self.line_num} lines; "
                "give one head character per line"
            )

    def forced(self) -> dict[tuple[int, int], str]:
        """(line, column) -> character fixed by the request: the start of the first line, or one head per line."""
        forced = {(0, col): char for col, char in enumerate(self.start)}
        return forced | {(line, 0): char for line, char in enumerate(self.acrostic or "")}


def with_seed(spec: PoemSpec) -> PoemSpec:
    """The spec with a fresh random seed if it had none, so a streamed poem can report the seed that reproduces it."""
    return spec if spec.seed is not None else replace(spec, seed=secrets.randbelow(SEED_LIMIT))


def assemble(text: str, line_length: int) -> dict[str, Any]:
    """A poem's streamed characters as the answer's {"poem": couplets on their own text lines, "lines": [...]}."""
    width = line_length + 1
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    poem = "\n".join("".join(lines[i : i + 2]) for i in range(0, len(lines), 2))
    return {"poem": poem, "lines": lines}


def is_han(token: str) -> bool:
    """A single CJK ideograph: the only tokens a poem line may hold (no specials, punctuation, Latin, digits)."""
    return len(token) == 1 and unicodedata.name(token, "").startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH"))


@cache
def _jieba_analyse() -> ModuleType:
    """jieba loads its dictionaries on first use (and logs that to stderr); import it only when a theme arrives."""
    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)
    return jieba.analyse


class PoemGenerator:
    """Writes poems of an exact shape with a CharRNN-like module: forward(tokens, hidden), initial_hidden(n)."""

    def __init__(self, model: Any, tokens: list[str], device: torch.device | str = "cpu",
                 rhymes: dict[str, RhymeTable] | None = None) -> None:  # fmt: skip
        if tokens[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a poem vocabulary must start with {SPECIALS}")
        self.index = {t: i for i, t in enumerate(tokens)}
        missing = [mark for mark in (COMMA, PERIOD) if mark not in self.index]
        if missing:
            raise ValueError(f"the vocabulary lacks the line-end marks {missing}")
        self.tokens = tokens
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self._bos, self._comma, self._period = self.index[BOS], self.index[COMMA], self.index[PERIOD]
        # Kept on the CPU with the sampling, so a seed gives the same choices whatever device runs the model.
        self._allowed = torch.tensor([is_han(t) for t in tokens], dtype=torch.bool)
        if not self._allowed.any():
            raise ValueError("the vocabulary has no Chinese characters")
        # A model exported with another vocabulary would write nonsense silently; one step here catches it at startup.
        with torch.inference_mode():
            logits, _ = self._step([self._bos], self._initial_hidden())
        if logits.shape[-1] != len(tokens):
            raise ValueError(f"the model predicts {logits.shape[-1]} tokens but the vocabulary has {len(tokens)}")
        self.rhymes = rhymes or {}
        self._decoder = PoemDecoder(self.model, tokens, self.index, self._allowed, self.device, self.rhymes)

    def unwritable(self, text: str) -> list[str]:
        """Distinct characters of `text` that cannot appear in a line, in order of first appearance."""
        return [ch for ch in dict.fromkeys(text) if ch not in self.index or not self._allowed[self.index[ch]]]

    def check(self, spec: PoemSpec) -> None:
        """Refuses a spec before any work, with a message a client can act on (PoemInputError): characters the
        model cannot write, and forced characters no tone pattern allows."""
        unknown = self.unwritable(spec.start + (spec.acrostic or ""))
        if unknown:
            raise PoemInputError(
                f"characters not in the vocabulary: {unknown} (only Chinese characters, without punctuation)", unknown
            )
        try:
            self._decoder.feasible_forms(spec, spec.forced())
        except RhymeInputError as exc:
            raise PoemInputError(str(exc)) from exc

    def stream(self, spec: PoemSpec) -> Iterator[str]:
        """The poem one character at a time, punctuation included, no line breaks (for server-sent events).

        Checks the spec now, not on the first `next()`, so a server can answer 422 before it starts streaming.
        Call `with_seed` first when the seed must be reported; a spec without a seed gets a random one here.
        """
        decoding = self.decoding(spec)  # checks now: a refusal comes before the first character
        return self._drive(decoding)

    def generate(self, spec: PoemSpec) -> dict[str, Any]:
        """{"poem": couplets on their own text lines, "lines": each line with its mark, "seed": to reproduce it}."""
        spec = with_seed(spec)
        poem = assemble("".join(self.stream(spec)), spec.line_length)
        return {**poem, "seed": spec.seed, **self.describe_rhyme(spec, poem["lines"])}

    def describe_rhyme(self, spec: PoemSpec, lines: list[str]) -> dict[str, Any]:
        """{"rhyme_group", "rhymes" (per line)} under the requested table; {} when no rhyme was asked for."""
        if spec.rhyme == "none" or spec.rhyme not in self.rhymes:
            return {}
        group, rhymes = rhyme_report(self.rhymes[spec.rhyme], lines)
        return {"rhyme_group": group, "rhymes": rhymes}

    def keywords_to_chars(self, theme: str, limit: int) -> str:
        """Up to `limit` distinct writable characters from the theme's keywords (jieba TF-IDF), keyword order first.

        jieba drops one-character words, so a theme such as "月" has no keywords: then its own characters are used.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        keywords = _jieba_analyse().extract_tags(theme, topK=max(limit, 20))
        chars = self._writable("".join(keywords)) or self._writable(theme)
        if not chars:
            unknown = self.unwritable("".join(theme.split()))
            raise PoemInputError(f"no character of the theme is in the vocabulary: {unknown}", unknown)
        return "".join(chars[:limit])

    def _writable(self, text: str) -> list[str]:
        return [ch for ch in dict.fromkeys(text) if ch in self.index and self._allowed[self.index[ch]]]

    def _initial_hidden(self) -> torch.Tensor:
        return self.model.initial_hidden(1).to(self.device)

    def _step(self, ids: list[int], hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, hidden = self.model(torch.tensor([ids], dtype=torch.long, device=self.device), hidden)
        return logits[0, -1], hidden

    def decoding(self, spec: PoemSpec) -> Decoding:
        """The poem as a decoding to drive (characters and Steps; app/predictors/poem_decoding.py): checked, seeded."""
        spec = with_seed(spec)
        self.check(spec)
        generator = torch.Generator().manual_seed(spec.seed)
        return self._decoder.decode(spec, spec.forced(), (self._comma, self._period), generator)

    def step(self, ids: torch.Tensor, hidden: torch.Tensor) -> StepAnswer:
        """One forward pass: the logits after the last of `ids` [rows, tokens], and the new hidden state."""
        logits, hidden = self.model(ids.to(self.device), hidden)
        return logits[:, -1], hidden

    def sample(self, samples: list[Sample]) -> list[int]:
        """The tokens drawn for Samples of one or many poems (PoemDecoder.sample)."""
        return self._decoder.sample(samples)

    # As a decorator (not a `with` inside the body), inference mode is switched on only while the generator runs,
    # instead of leaking into the caller's thread between two `next()` calls.
    @torch.inference_mode()
    def _drive(self, decoding: Decoding) -> Iterator[str]:
        yield from run(decoding, self.step, self.sample)
