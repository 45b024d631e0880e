"""Gradient × input saliency with exact numbers, from a linear model whose weights say what it looks at."""

import numpy as np
import pytest
import torch
from torch import nn

from app.models.torchscript import script_module
from app.predictors.classifier import as_batch
from app.predictors.saliency import gradient_times_input

CPU = torch.device("cpu")


class Linear28(nn.Module):
    """Two classes; class 1's score is 2·x[10,20] + 1·x[5,5] − 1·x[0,0]; class 0's is x[27,27]."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(784, 2, bias=True)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.fill_(0.5)
            weights = self.linear.weight.view(2, 28, 28)
            weights[1, 10, 20], weights[1, 5, 5], weights[1, 0, 0] = 2.0, 1.0, -1.0
            weights[0, 27, 27] = 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


@pytest.fixture(scope="module")
def model() -> torch.jit.ScriptModule:
    return script_module(Linear28().eval())


def test_the_map_is_each_pixels_positive_contribution_scaled_to_one(model):
    image = np.full((28, 28), 100.0, dtype=np.float32)
    (saliency,) = gradient_times_input(model, as_batch([image]), [1], CPU)
    assert saliency.shape == (28, 28)
    assert saliency[10, 20] == 1.0 and saliency[5, 5] == 0.5
    assert saliency[0, 0] == 0.0  # it argued against class 1: not part of the map
    assert np.count_nonzero(saliency) == 2


def test_the_map_explains_the_class_it_is_asked_about(model):
    image = np.full((28, 28), 100.0, dtype=np.float32)
    for_one, for_zero = gradient_times_input(model, as_batch([image, image]), [1, 0], CPU)
    assert for_zero[27, 27] == 1.0 and np.count_nonzero(for_zero) == 1
    assert for_one[27, 27] == 0.0


def test_a_pixel_that_is_not_there_drove_nothing(model):
    image = np.zeros((28, 28), dtype=np.float32)
    image[5, 5] = 255.0  # only the weaker pixel is inked: it gets the whole map
    (saliency,) = gradient_times_input(model, as_batch([image]), [1], CPU)
    assert saliency[5, 5] == 1.0 and saliency[10, 20] == 0.0


def test_a_blank_image_gives_an_empty_map_not_a_division_by_zero(model):
    (saliency,) = gradient_times_input(model, as_batch([np.zeros((28, 28), dtype=np.float32)]), [1], CPU)
    assert np.all(saliency == 0)
