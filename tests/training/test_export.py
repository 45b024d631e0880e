"""The TorchScript export refuses a module whose scripted outputs differ from its eager ones."""

import pytest
import torch
from torch import nn

from training.common import export_torchscript


class Doubler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * x + 1.0


class DiffersWhenScripted(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return x + 1e-3
        return x


def test_export_round_trips_and_returns_the_reloaded_module(tmp_path):
    reloaded = export_torchscript(Doubler(), (torch.tensor([4.0]),), tmp_path / "m.pt")
    assert reloaded(torch.tensor([4.0])).item() == 9.0
    assert (tmp_path / "m.pt").exists()


def test_export_fails_and_removes_the_file_when_outputs_differ(tmp_path):
    with pytest.raises(RuntimeError, match=r"differs from the eager model by 1\.00e-03"):
        export_torchscript(DiffersWhenScripted(), (torch.zeros(3),), tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
