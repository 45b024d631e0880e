"""Start-up optimization: used only when it answers like the committed module, on probes and on real test sets."""

import logging

import torch

from app.models import optimize
from app.models.optimize import difference, image_probe, optimize_for_serving
from app.models.registry import probe_of
from app.models.torchscript import load_torchscript
from tests.api.conftest import MODELS
from training.image_examples import DIGIT_PIXELS

CPU = torch.device("cpu")


def committed(name: str) -> torch.jit.ScriptModule:
    return load_torchscript(str(MODELS / name / "model.pt"), map_location="cpu").eval()


# The optimized classifiers on all 10,000 real test images: tests/models/test_backends.py (backend torchscript).


def test_the_optimized_poem_model_keeps_initial_hidden_and_its_outputs():
    module = committed("poem")
    served, optimized = optimize_for_serving("poem", module, probe_of(MODELS / "poem"), CPU)
    assert optimized
    tokens = torch.tensor([[1, 5, 9, 200, 3000]])
    with torch.inference_mode():
        want, _ = module(tokens, module.initial_hidden(1))
        got, _ = served(tokens, served.initial_hidden(1))
    assert float((torch.softmax(want, -1) - torch.softmax(got, -1)).abs().max()) <= 1e-4


def test_the_house_model_is_served_as_committed():
    module = committed("house")
    assert optimize_for_serving("house", module, probe_of(MODELS / "house"), CPU) == (module, False)


def test_an_optimizer_that_changes_answers_is_not_used_and_says_why(monkeypatch, caplog):
    module = committed("digit")

    class Skewed(torch.nn.Module):
        def forward(self, x):
            return module(x) + torch.arange(10.0) * 5  # shifts probability mass: labels change

    monkeypatch.setattr(optimize.torch.jit, "optimize_for_inference", lambda m, other_methods=None: Skewed())
    with caplog.at_level(logging.WARNING, logger="dlserve.models"):
        served, optimized = optimize_for_serving("digit", module, probe_of(MODELS / "digit"), CPU)
    assert served is module and not optimized
    assert "model digit is served as committed, not optimized:" in caplog.text
    assert "labels changed" in caplog.text


def test_an_optimizer_that_fails_leaves_the_committed_module_in_service(monkeypatch, caplog):
    def broken(module, other_methods=None):
        raise RuntimeError("unsupported operator\nlong details")

    monkeypatch.setattr(optimize.torch.jit, "optimize_for_inference", broken)
    module = committed("fashion")
    with caplog.at_level(logging.WARNING, logger="dlserve.models"):
        assert optimize_for_serving("fashion", module, probe_of(MODELS / "fashion"), CPU) == (module, False)
    assert "optimization failed (RuntimeError: unsupported operator)" in caplog.text


def test_difference_names_label_changes_value_gaps_and_nan():
    want = [torch.tensor([[0.9, 0.1], [0.2, 0.8]])]
    assert difference(want, [want[0] + 5e-5]) is None
    assert difference(want, [torch.tensor([[0.1, 0.9], [0.2, 0.8]])]) == "1 of 2 labels changed"
    assert difference(want, [want[0] + torch.tensor([[2e-4, 0.0], [0.0, 0.0]])]).startswith("outputs differ by up to")
    assert difference(want, [torch.tensor([[float("nan"), 0.1], [0.2, 0.8]])]) is not None
    assert difference(want, [torch.zeros(3, 2)]) == "output shape (3, 2) instead of (2, 2)"


def test_image_probe_is_a_deterministic_batch_of_valid_images():
    spec = probe_of(MODELS / "digit").spec
    probe = image_probe(spec, DIGIT_PIXELS)
    assert probe.shape == (64, 1, 28, 28)
    assert float(probe.min()) >= 0 and float(probe.max()) <= 255
    assert torch.equal(probe, image_probe(spec, DIGIT_PIXELS))
