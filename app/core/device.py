"""Which torch device a setting names: the server's DEVICE and training's --device share this rule."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """auto -> CUDA when available, else CPU; asking for CUDA where there is none is an error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested (--device cuda / DEVICE=cuda) but is not available on this machine")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
