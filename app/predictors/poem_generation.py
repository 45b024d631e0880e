"""Constrained decoding of Tang-style poems from the character model (training/poem_model.py).

The model writes free text; a 绝句 or 律诗 has a fixed shape. Instead of sampling freely and hoping (the course's
`generate_poem` counts characters and pastes punctuation in, so the model never sees it), every content position is
sampled only among Chinese characters and every line end is *forced* to "，" or "。" and fed back to the model, so its
state sees the same text format it was trained on. The shape therefore holds whatever the weights are.

`stream(spec)` yields the characters of the lines, punctuation included, one at a time; `generate(spec)["poem"]` is
the same text with a "\n" after each couplet's "。" (the line break is presentation, not part of the stream).

With `rhyme` or `tones` set, app/predictors/rhymed_decoding.py writes the poem instead: each character within the
rhyme table's and the tone pattern's rules, with a one-step look-ahead before each rhyme.
"""

from __future__ import annotations

import json
import logging
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from app.predictors.poem_tokens import BOS, SPECIALS
from app.predictors.rhymed_decoding import RhymedDecoder, RhymeInputError, rhyme_report
from app.predictors.rhymes import RHYME_SYSTEMS, RhymeTable

COMMA, PERIOD = "，", "。"
LINE_LENGTHS = (5, 7)
MAX_LINES = 16
# Below 0.05 sampling is already all but greedy; far below, `logits / temperature` overflows to
# inf and the sampling distribution to NaN (a fuzzer found 6.6e-153 → 500). Hence a floor, not just > 0.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 5.0
SEED_LIMIT = 2**32  # fresh seeds stay well inside JSON's exact-integer range so a browser can send them back
RHYMES = ("none", *RHYME_SYSTEMS)
TONES = ("none", "loose", "strict")


class PoemInputError(ValueError):
    """A request the generator cannot satisfy; str(exc) is meant for a 422 `detail`.

    `unknown` lists the offending characters when the reason is characters the model cannot write, so the
    service can return them as data rather than make clients parse the message.
    """

    def __init__(self, message: str, unknown: list[str] | None = None) -> None:
        super().__init__(message)
        self.unknown = list(unknown or [])


@dataclass(frozen=True)
class PoemSpec:
    start: str = ""  # characters that begin the poem (may be empty)
    acrostic: str | None = None  # one head character per line (藏头诗) instead of start
    line_num: int = 4  # lines (句) as poets count them: 4 = 绝句, 8 = 律诗 (the course counted couplets)
    line_length: int = 7  # characters per line, punctuation excluded
    temperature: float = 0.8
    top_k: int = 20
    seed: int | None = None
    rhyme: str = "none"  # or a rhyme table: "pingshui" (平水韵) or "xinyun" (中华新韵)
    tones: str = "none"  # or "loose" / "strict": the 平仄 patterns of regulated verse


def with_seed(spec: PoemSpec) -> PoemSpec:
    """The spec with a fresh random seed if it had none, so a streamed poem can report the seed that reproduces it."""
    return spec if spec.seed is not None else replace(spec, seed=secrets.randbelow(SEED_LIMIT))


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
        self._rhymed = (
            RhymedDecoder(self.model, tokens, self.index, self._allowed, self.device, self.rhymes) if rhymes else None
        )

    @classmethod
    def load(cls, model_path: Path, vocab_path: Path, device: torch.device | str = "cpu") -> PoemGenerator:
        """From the exported files: a TorchScript model.pt and its vocab.json ({"tokens": [...], ...})."""
        model = torch.jit.load(str(model_path), map_location=device)
        tokens = json.loads(Path(vocab_path).read_text(encoding="utf-8"))["tokens"]
        return cls(model, tokens, device)

    def unwritable(self, text: str) -> list[str]:
        """Distinct characters of `text` that cannot appear in a line, in order of first appearance."""
        return [ch for ch in dict.fromkeys(text) if ch not in self.index or not self._allowed[self.index[ch]]]

    def check(self, spec: PoemSpec) -> None:
        """Refuses a spec before any work, with a message a client can act on (PoemInputError)."""
        if spec.line_length not in LINE_LENGTHS:
            raise PoemInputError(f"line_length must be 5 or 7, got {spec.line_length}")
        if not 1 <= spec.line_num <= MAX_LINES:
            raise PoemInputError(f"line_num must be between 1 and {MAX_LINES}, got {spec.line_num}")
        if not MIN_TEMPERATURE <= spec.temperature <= MAX_TEMPERATURE:  # also refuses NaN
            raise PoemInputError(
                f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE}, got {spec.temperature}"
            )
        if spec.top_k < 1:
            raise PoemInputError(f"top_k must be at least 1, got {spec.top_k}")
        if spec.seed is not None and not 0 <= spec.seed < 2**64:
            raise PoemInputError(f"seed must be between 0 and 2**64 - 1, got {spec.seed}")
        if spec.start and spec.acrostic is not None:
            raise PoemInputError("give either start or acrostic, not both")
        unknown = self.unwritable(spec.start + (spec.acrostic or ""))
        if unknown:
            raise PoemInputError(
                f"characters not in the vocabulary: {unknown} (only Chinese characters, without punctuation)", unknown
            )
        if len(spec.start) > spec.line_length:
            raise PoemInputError(
                f"start has {len(spec.start)} characters but a line has only {spec.line_length}; "
                "start must fit in the first line"
            )
        if spec.acrostic is not None and len(spec.acrostic) != spec.line_num:
            raise PoemInputError(
                f"acrostic has {len(spec.acrostic)} characters but the poem has {spec.line_num} lines; "
                "give one head character per line"
            )
        if spec.rhyme not in RHYMES or spec.tones not in TONES:
            raise PoemInputError(f"rhyme must be one of {RHYMES} and tones one of {TONES}")
        if _constrained(spec):
            if self._rhymed is None:
                raise PoemInputError("this poem model was loaded without rhyme tables; use rhyme='none', tones='none'")
            try:
                self._rhymed.feasible_forms(spec, _forced(spec))
            except RhymeInputError as exc:
                raise PoemInputError(str(exc)) from exc

    def stream(self, spec: PoemSpec) -> Iterator[str]:
        """The poem one character at a time, punctuation included, no line breaks (for server-sent events).

        Checks the spec now, not on the first `next()`, so a server can answer 422 before it starts streaming.
        Call `with_seed` first when the seed must be reported; a spec without a seed gets a random one here.
        """
        spec = with_seed(spec)
        self.check(spec)
        if _constrained(spec):
            assert self._rhymed is not None  # noqa: S101 - narrows the type; check() refused the spec otherwise
            return self._decode_rhymed(spec)
        return self._decode(spec)

    def generate(self, spec: PoemSpec) -> dict[str, Any]:
        """{"poem": couplets on their own text lines, "lines": each line with its mark, "seed": to reproduce it}."""
        spec = with_seed(spec)
        text = "".join(self.stream(spec))
        width = spec.line_length + 1
        lines = [text[i : i + width] for i in range(0, len(text), width)]
        poem = text.replace(PERIOD, PERIOD + "\n").rstrip("\n")  # "。" only ever closes a line
        return {"poem": poem, "lines": lines, "seed": spec.seed, **self.describe_rhyme(spec, lines)}

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

    # As a decorator (not a `with` inside the body), inference mode is switched on only while the generator runs,
    # instead of leaking into the caller's thread between two `next()` calls.
    @torch.inference_mode()
    def _decode(self, spec: PoemSpec) -> Iterator[str]:
        generator = torch.Generator().manual_seed(spec.seed)
        forced = {key: self.index[ch] for key, ch in _forced(spec).items()}
        hidden = self._initial_hidden()
        pending = [self._bos]  # tokens decided but not yet fed: forced ones are fed together, as one step
        for line in range(spec.line_num):
            used: list[int] = []
            for col in range(spec.line_length):
                token = forced.get((line, col))
                if token is None:
                    logits, hidden = self._step(pending, hidden)
                    token, pending = self._sample(logits, spec, used, generator), []
                pending.append(token)
                used.append(token)
                yield self.tokens[token]
            # Alternating "，" / "。", and a poem never ends on a comma (only matters for an odd line_num).
            mark = self._period if line % 2 or line == spec.line_num - 1 else self._comma
            pending.append(mark)
            yield self.tokens[mark]

    @torch.inference_mode()
    def _decode_rhymed(self, spec: PoemSpec) -> Iterator[str]:
        assert self._rhymed is not None and spec.seed is not None  # noqa: S101 - narrows the types (generate() set both)

        def step(ids: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            logits, hidden = self.model(ids.to(self.device), hidden)
            return logits[:, -1], hidden

        generator = torch.Generator().manual_seed(spec.seed)
        yield from self._rhymed.decode(spec, _forced(spec), step, (self._comma, self._period), generator)

    def _sample(self, logits: torch.Tensor, spec: PoemSpec, used: list[int], generator: torch.Generator) -> int:
        """One Chinese character from the top_k at `temperature`, avoiding repeats within the line when possible."""
        allowed = self._allowed.clone()
        if used:
            allowed[used] = False
        if not allowed.any():  # a vocabulary smaller than a line: repeating beats failing
            allowed = self._allowed
        scores = (logits.float().cpu() / spec.temperature).masked_fill(~allowed, float("-inf"))
        top, ids = scores.topk(min(spec.top_k, int(allowed.sum())))
        choice = torch.multinomial(torch.softmax(top, dim=-1), 1, generator=generator)
        return int(ids[choice])


def _constrained(spec: PoemSpec) -> bool:
    return spec.rhyme != "none" or spec.tones != "none"


def _forced(spec: PoemSpec) -> dict[tuple[int, int], str]:
    """(line, column) -> character fixed by the request: the start of the first line, or one head per line."""
    forced = {(0, col): char for col, char in enumerate(spec.start)}
    return forced | {(line, 0): char for line, char in enumerate(spec.acrostic or "")}
