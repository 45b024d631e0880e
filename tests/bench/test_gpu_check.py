"""bench/gpu_check.py refuses to run without CUDA (as in CI) and compares like for like when it runs."""

import torch

from bench import gpu_check


def test_without_a_gpu_it_says_so_and_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_it_loads_models_as_the_service_does():
    loaded = gpu_check.load("digit", torch.device("cpu"))
    assert loaded.optimized and loaded.meta["sha256"]
