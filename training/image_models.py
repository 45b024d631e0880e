"""Image classifiers for 28×28 grayscale inputs: the course's two baselines and our CNN.

Every model takes raw pixels — float32 N×1×28×28 in 0–255 — and does its own scaling, so the
exported TorchScript file carries its normalization and the server never has to know it.
"""

from __future__ import annotations

import torch
from torch import nn


class TwoLayerNet(nn.Module):
    """The course's digit recipe: 784-50-10 with ReLU on pixels scaled to [0, 1]."""

    def __init__(self, hidden: int = 50, num_classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        for layer in (self.fc1, self.fc2):  # the course initialises with N(0, 0.01²) and zero biases
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x.flatten(1) / 255.0)))


class LeNet(nn.Module):
    """The course's Fashion-MNIST recipe: sigmoid LeNet-5 on raw pixels, Xavier-uniform init."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.Sigmoid(),
            nn.Linear(120, 84),
            nn.Sigmoid(),
            nn.Linear(84, num_classes),
        )
        for module in self.net:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ConvNet(nn.Module):
    """Ours: two VGG-style stages of two 3×3 conv+BN+ReLU layers, then a BN/dropout head.

    Normalization constants are buffers so they travel inside the TorchScript file.
    """

    def __init__(
        self, c1: int = 32, c2: int = 64, fc: int = 256, dropout: float = 0.3, mean: float = 0.5, std: float = 0.5
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean * 255.0))
        self.register_buffer("std", torch.tensor(std * 255.0))
        self.features = nn.Sequential(
            *_conv_bn_relu(1, c1),
            *_conv_bn_relu(c1, c1),
            nn.MaxPool2d(2),
            nn.Dropout2d(dropout / 3),
            *_conv_bn_relu(c1, c2),
            *_conv_bn_relu(c2, c2),
            nn.MaxPool2d(2),
            nn.Dropout2d(dropout / 3),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, fc, bias=False),
            nn.BatchNorm1d(fc),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - self.mean) / self.std))


ARCHITECTURES: dict[str, type[nn.Module]] = {"two_layer_net": TwoLayerNet, "lenet": LeNet, "convnet": ConvNet}


def build_image_model(arch: str, args: dict) -> nn.Module:
    return ARCHITECTURES[arch](**args)
