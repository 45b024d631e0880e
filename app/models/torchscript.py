"""TorchScript on purpose: the one place its deprecation notice is silenced.

model.pt (TorchScript) is the checkpoint format this project promises: a file that loads without the
training code, in any torch of the range pyproject.toml allows. torch 2.13 marks every `torch.jit` entry
point deprecated ("Please switch to torch.export"), and warns at each call. Where this project calls
`torch.jit` it does so knowing that, so the notice is silenced around those calls only — not in the test
configuration, where it would hide any other deprecation. Other backends run beside it
(app/models/backends.py: ONNX Runtime, torch.export), each checked against the TorchScript module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

JIT_DEPRECATION = r"`torch\.jit\.[\w.]+` is deprecated"


@contextmanager
def jit_allowed() -> Iterator[None]:
    """Around a deliberate `torch.jit` call: its deprecation notice (only that one) is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JIT_DEPRECATION, category=DeprecationWarning)
        yield


def load_torchscript(source: Any, map_location: Any = None) -> torch.jit.ScriptModule:
    """`torch.jit.load` of a model.pt (a path or a file object), deliberately."""
    with jit_allowed():
        return torch.jit.load(source, map_location=map_location)


def script_module(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """`torch.jit.script`, deliberately: how training writes model.pt (and tests make small ones)."""
    with jit_allowed():
        return torch.jit.script(module)
