"""`dlserve import --task text-generation`: the course's character RNN (9.4) and its vocabulary, served as poems.

The student gives the .py defining the network with its `state_dict` (or a TorchScript file) and the
vocabulary the course builds (`vocab`: a JSON list, id order; or `word2idx`: a JSON object). The network is
wrapped (app/models/text_adapter.py) so the poem decoder can drive it: the served vocabulary is the four special
tokens, the network's characters, and the line marks "，" "。" where it lacks them. Before anything is written,
the network is probed for its layout (`[steps, rows]` as nn.RNN's default, or batch-first) and its state, then
the wrapped network — and, loaded back from the folder as the server loads it, fed one token at a time as the
decoder feeds it — must answer the probe lines as the course's own generation loop runs the network (within
1e-4), and write a whole poem.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app.models.importer import (
    ImportRefused,
    Network,
    commit,
    original_network,
    provenance,
    reason,
    served_predictor,
    spec_of,
    staged,
    target_folder,
    write_meta,
)
from app.models.optimize import difference
from app.models.text_adapter import CourseCharModel
from app.models.torchscript import jit_allowed, script_module
from app.predictors.poem_generation import COMMA, PERIOD, PoemSpec, is_han
from app.predictors.poem_tokens import BOS, SPECIALS
from app.schemas.model_meta import TEXT

START_TOKENS = ("<bos>", "<BOS>", "<UNK>", "<unk>", "<start>")  # what seeds the network (the course: <UNK>)
PROBE_LINES, PROBE_LENGTH = 4, 5  # probe poems of two 5-character lines: what the folder is checked on
SPECIAL = re.compile(r"^<[^<>]+>$")


@dataclass(frozen=True)
class TextImport(Network):
    """What `dlserve import` was asked for a character model (the CLI's arguments)."""

    vocab: Path | None = None  # the course's vocab (JSON list) or word2idx (JSON object)
    rhymes: Path | None = None  # rhyme tables for regulated verse (models/poem/rhymes.json), when wanted
    version: str = "1"


@dataclass(frozen=True)
class Layout:
    """What probing the network found."""

    time_major: bool
    layers: int
    width: int
    size: int  # the vocabulary it predicts


def import_text_generator(request: TextImport, model_dir: Path, *, force: bool = False) -> Path:
    """Write and verify `model_dir/<name>/`; the folder, or ImportRefused saying why nothing was written."""
    target = target_folder(request, model_dir, force)
    theirs = read_vocabulary(request.vocab)
    served, feed, spread = served_vocabulary(theirs)
    meta = {"name": request.name, "version": request.version, "task": TEXT,
            "input": {"vocab": "vocab.json", **({"rhymes": "rhymes.json"} if request.rhymes else {})},
            "output": {"logits": f"float32 [N, T, {len(served)}] for the next token"},
            "imported": provenance(request) | {"vocab": request.vocab.name if request.vocab else None}}  # fmt: skip
    spec_of(meta)
    original = original_network(request)
    layout = probe_layout(original, len(theirs))
    wrapped = CourseCharModel(compiled(original, layout), torch.tensor(feed), torch.tensor([i for i, _ in spread]),
                              torch.tensor([j for _, j in spread]), len(served), layout.layers, layout.width,
                              layout.time_major).eval()  # fmt: skip
    lines = probe_lines(served)
    want = course_answers(original, layout, lines, feed)
    problem = unlike(want, served_answers(wrapped, lines), spread)
    if problem is not None:  # a fault of this adapter, not of the student's network
        raise ImportRefused(f"the wrapped network answers unlike the network: {problem}")
    try:
        scripted = script_module(wrapped)
    except Exception as exc:  # TorchScript cannot compile some Python (a class it cannot script)
        raise ImportRefused(f"TorchScript cannot compile {type(original).__name__} ({reason(exc)})") from exc
    with staged(request, model_dir) as staging:
        with jit_allowed():
            scripted.save(str(staging / "model.pt"))
        vocabulary = {"tokens": served, "specials": SPECIALS, "size": len(served)}
        (staging / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        if request.rhymes:
            shutil.copy(request.rhymes, staging / "rhymes.json")
        meta |= {"artifact": "model.pt", "sha256": hashlib.sha256((staging / "model.pt").read_bytes()).hexdigest(),
                 "architecture": {"name": type(original).__name__, "layers": layout.layers, "hidden": layout.width,
                                  "layout": "[steps, rows]" if layout.time_major else "[rows, steps]",
                                  "vocabulary": len(theirs)},
                 "probe": {"poems": len(lines), "line_length": PROBE_LENGTH}}  # fmt: skip
        write_meta(staging, meta)
        _check_served(staging, lines, want, spread)
        commit(staging, target)
    return target


def read_vocabulary(path: Path | None) -> list[str]:
    """The network's tokens in id order, from the course's `vocab` (a list) or `word2idx` (an object)."""
    if path is None:
        raise ImportRefused("a character model needs its vocabulary: --vocab vocab.json (the course's vocab list)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportRefused(f"{path.name} cannot be read as JSON ({type(exc).__name__})") from exc
    if isinstance(data, dict) and isinstance(data.get("tokens"), list):
        data = data["tokens"]  # a vocab.json this project wrote
    if isinstance(data, dict):
        ids = sorted(data.values()) if all(isinstance(v, int) for v in data.values()) else None
        if ids != list(range(len(data))):
            raise ImportRefused(f"{path.name}: a word2idx object must map each token to its id, 0 to {len(data) - 1}")
        data = sorted(data, key=data.__getitem__)
    if not (isinstance(data, list) and data and all(isinstance(t, str) and t for t in data)):
        raise ImportRefused(f"{path.name} must be the list of tokens in id order (the course's vocab)")
    if len(set(data)) != len(data):
        raise ImportRefused(f"{path.name} lists a token twice")
    return data


def served_vocabulary(theirs: list[str]) -> tuple[list[str], list[int], list[tuple[int, int]]]:
    """(the served tokens, served id → the network's id or -1, [(the network's id, served id)] of what it predicts)."""
    index = {token: i for i, token in enumerate(theirs)}
    start = next((index[t] for t in START_TOKENS if t in index), None)
    if start is None:
        raise ImportRefused(f"the vocabulary has no token to begin a poem with (one of {', '.join(START_TOKENS)})")
    characters = [t for t in theirs if not SPECIAL.match(t)]
    if not any(is_han(t) for t in characters):
        raise ImportRefused("the vocabulary has no Chinese characters")
    served = [*SPECIALS, *characters, *(mark for mark in (COMMA, PERIOD) if mark not in index)]
    feed = [index.get(token, -1) for token in served]
    feed[SPECIALS.index(BOS)] = start
    spread = [(index[token], i) for i, token in enumerate(served) if token in index and not SPECIAL.match(token)]
    return served, feed, spread


def probe_layout(network: Any, size: int) -> Layout:
    """How the network takes ids and keeps its state, found by running it as the course does."""
    try:
        with torch.inference_mode():
            logits, hidden = network(torch.zeros(1, 1, dtype=torch.long))
    except Exception as exc:  # not forward(ids, hx=None) -> (logits, hx)
        raise ImportRefused(f"the network does not run as the course's does, forward(ids) → (logits, state) "
                            f"({reason(exc, 160)})") from exc  # fmt: skip
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise ImportRefused("the network's state is not one tensor [layers, rows, width] (an LSTM's (h, c) pair is "
                            "not served yet: use nn.RNN or nn.GRU)")  # fmt: skip
    if logits.shape[-1] != size:
        raise ImportRefused(f"the network predicts {logits.shape[-1]} tokens but the vocabulary has {size}")
    layers, width = hidden.shape[0], hidden.shape[2]
    for time_major, ids in ((True, torch.zeros(1, 3, dtype=torch.long)), (False, torch.zeros(3, 1, dtype=torch.long))):
        if _answers_rows(network, ids, torch.zeros(layers, 3, width), size):
            return Layout(time_major, layers, width, size)
    raise ImportRefused("the network takes neither ids [steps, rows] nor [rows, steps] with a state of those rows")


def _answers_rows(network: Any, ids: torch.Tensor, hidden: torch.Tensor, size: int) -> bool:
    """Whether the network takes `ids` in this layout: nn.RNN refuses a state of 3 rows for the other one."""
    try:
        with torch.inference_mode():
            out, state = network(ids, hidden)
    except Exception:  # the other layout's refusal: any error of the student's network
        return False
    return out.shape == (*ids.shape, size) and state.shape == hidden.shape


def compiled(network: Any, layout: Layout) -> Any:
    """The network as TorchScript: scripted when that also saves, else traced with the state always given.

    The course's `forward(self, input, hx=None)` scripts, but TorchScript cannot save the undefined default of
    `hx`; the adapter always passes a state, so a trace of that call is the same network (checked after).
    """
    if isinstance(network, torch.jit.ScriptModule):
        return network
    try:
        scripted = script_module(network)
        with jit_allowed():
            # torch.jit.save takes a buffer; ScriptModule.save would write a file named after its repr.
            torch.jit.save(scripted, io.BytesIO())
        return scripted
    except Exception:  # noqa: S110  # then tracing, below; a network neither takes is refused there
        pass
    ids = torch.zeros((1, 3) if layout.time_major else (3, 1), dtype=torch.long)
    try:
        with jit_allowed(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the probe's shapes: checked on others after
            return torch.jit.trace(network, (ids, torch.zeros(layout.layers, 3, layout.width)), check_trace=False)
    except Exception as exc:  # Python TorchScript can neither compile nor record
        raise ImportRefused(f"TorchScript can neither compile nor trace {type(network).__name__} "
                            f"({reason(exc)})") from exc  # fmt: skip


def probe_lines(served: list[str]) -> list[list[int]]:
    """Seeded probe poems in served ids: <bos>, five characters, "，", five characters, "。"."""
    characters = [i for i, token in enumerate(served) if is_han(token)]
    draw = torch.Generator().manual_seed(0)
    comma, period, bos = served.index(COMMA), served.index(PERIOD), SPECIALS.index(BOS)
    lines = []
    for _ in range(PROBE_LINES):
        picks = [characters[int(i)] for i in torch.randint(len(characters), (2 * PROBE_LENGTH,), generator=draw)]
        lines.append([bos, *picks[:PROBE_LENGTH], comma, *picks[PROBE_LENGTH:], period])
    return lines


def course_answers(network: Any, layout: Layout, lines: list[list[int]], feed: list[int]) -> torch.Tensor:
    """What the network answers after each token as the course's generation runs it: one row, one id at a time,
    from a state of zeros; a token it lacks is not fed (its answer is the one before). [poems, tokens, its vocab]."""
    poems = []
    with torch.inference_mode():
        for line in lines:
            hidden, answer, steps = torch.zeros(layout.layers, 1, layout.width), None, []
            for token in line:
                if feed[token] >= 0:
                    out, hidden = network(torch.tensor([[feed[token]]]), hidden)
                    answer = out.reshape(-1).float()
                steps.append(answer)
            poems.append(torch.stack(steps))
    return torch.stack(poems)


def served_answers(model: Any, lines: list[list[int]], one_by_one: bool = False) -> torch.Tensor:
    """The wrapped network's answers for the probe poems, [poems, tokens, served vocabulary]."""
    tokens = torch.tensor(lines)
    with torch.inference_mode():
        hidden = model.initial_hidden(len(lines))
        if not one_by_one:
            return model(tokens, hidden)[0]
        steps = []  # as the decoder feeds it: one token a step, the state carried
        for column in tokens.T:
            logits, hidden = model(column[:, None], hidden)
            steps.append(logits)
        return torch.cat(steps, 1)


def unlike(want: torch.Tensor, got: torch.Tensor, spread: list[tuple[int, int]]) -> str | None:
    """Why the network's answers (its ids) and the wrapped network's (served ids) differ, or None."""
    theirs, ours = [i for i, _ in spread], [j for _, j in spread]
    return difference([want[..., theirs].flatten(0, 1)], [got[..., ours].flatten(0, 1).float()])


def _check_served(folder: Path, lines: list[list[int]], want: torch.Tensor, spread: list[tuple[int, int]]) -> None:
    """Load the folder as the server does, feed the probe poems token by token, and write a poem."""
    loaded, generator = served_predictor(folder)  # the generator's warm-up writes a whole free poem
    problem = unlike(want, served_answers(loaded.module, lines, one_by_one=True), spread)
    if problem is not None:
        raise ImportRefused(f"the folder, loaded as the server loads it, answers unlike the network: {problem}")
    poem = generator.generate(PoemSpec(seed=0, rhyme="none"))
    if len(poem["lines"]) != PoemSpec().line_num:
        raise ImportRefused(f"the folder writes {len(poem['lines'])} lines instead of {PoemSpec().line_num}")
