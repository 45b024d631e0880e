"""Why an image classifier answered as it did: gradient × input saliency, from the TorchScript model alone.

For each pixel, the gradient of the predicted class's score (its logit) times the pixel's value
(Shrikumar et al., "Not Just a Black Box", 2016, arXiv:1605.01713; the gradient map itself is
Simonyan et al., "Deep Inside Convolutional Networks", 2014). The models see light content on
black, so a pixel's value is how far it is from "nothing there", and gradient × value is the
first-order estimate of how much the class score would fall if that pixel were blanked: exactly
the question "which regions drove this answer". Only the positive part is kept (pixels that argued
for the answer), scaled so the largest is 1.

Why not occlusion (blank each small square in turn and watch the probability fall): it needs one
forward pass per square — 144 for 6×6 squares at stride 2 — where this needs one forward and one
backward pass, about three forward passes' worth, which keeps an explained request within a few
times a plain one on the CPU (measured by bench/saliency.py).

The gradient needs the committed module: the served one is frozen and optimized for inference
(oneDNN-packed convolutions have no backward). The startup check keeps the two within 1e-4.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def gradient_times_input(
    scores: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, labels: list[int], device: torch.device
) -> np.ndarray:
    """Saliency maps [N, H, W] in [0, 1] for images `x` [N, C, H, W] (0–255) and the classes they were given.

    `scores` maps the raw pixels to the class scores (the classifier's own normalization, then the network), so
    the gradient is taken with respect to the pixels a client sent; a colour image's channels are summed."""
    x = x.to(device).requires_grad_(True)
    with torch.enable_grad():
        logits = scores(x)
        chosen = torch.as_tensor(labels, device=device)[:, None]
        logits.gather(1, chosen).sum().backward()
    assert x.grad is not None  # noqa: S101 - narrows the type; backward() filled it
    contribution = (x.grad * x.detach()).sum(dim=1).clamp(min=0)
    peak = contribution.flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None]
    return (contribution / peak).cpu().numpy()
