"""Plain-Python prediction for image classifiers (the image-classification task), testable without HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from app.predictors.saliency import gradient_times_input
from app.schemas.model_meta import ImageSpec


def as_batch(images: list[np.ndarray]) -> torch.Tensor:
    """H×W (or H×W×C) float32 arrays, 0–255 → one [N, C, H, W] tensor of the same values."""
    x = torch.from_numpy(np.stack(images).astype(np.float32, copy=False))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def network_input(x: torch.Tensor, spec: ImageSpec) -> torch.Tensor:
    """Raw pixels [N, C, H, W] (0–255) → what the network takes: meta.json's scale, mean and std, maybe flat.

    The committed CNNs normalize inside model.pt and take the pixels as they are (no operation here); a
    network trained on ToTensor()'s 0–1 inputs says `scale` 1/255, and so on."""
    if spec.scale != 1.0:
        x = x * spec.scale
    if spec.mean is not None:
        x = x - torch.tensor(spec.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    if spec.std is not None:
        x = x / torch.tensor(spec.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x.flatten(1) if spec.flat else x


class ImageClassifier:
    """Runs a batch of images (0–255, as the model's dataset has them) through the model; returns probabilities.

    `module` is what serves (possibly frozen and optimized, or another backend); `differentiable` the module to
    take gradients through for saliency maps (the committed TorchScript one; None when the model has none).
    """

    def __init__(self, module: Any, differentiable: Any, device: torch.device, version: str, spec: ImageSpec) -> None:
        self.module, self.differentiable, self.device, self.version = module, differentiable, device, version
        self.spec = spec
        self.classes = list(spec.classes)
        self.classes_zh = list(spec.classes_zh) if spec.classes_zh is not None else None

    def scores(self, module: Any, x: torch.Tensor) -> torch.Tensor:
        """The network's class scores (logits) for raw pixels [N, C, H, W] on the model's device."""
        out = module(network_input(x, self.spec)).float()
        return out.clamp_min(1e-30).log() if self.spec.probabilities else out  # softmax(log p) = p

    def run_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        x = as_batch(images).to(self.device)
        with torch.inference_mode():
            probabilities = torch.softmax(self.scores(self.module, x), dim=1).cpu().numpy()
        return list(probabilities)

    def explain(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(probabilities, saliency map, image) per image: which pixels drove each answer (app/predictors/saliency.py).

        Runs on the model's thread. The probabilities come from run_batch, the served module's own pass, so an
        explained answer is the plain answer plus its map; the gradient pass runs the committed module again
        (one more forward, a few milliseconds), since the served one has no backward.
        """
        probabilities = self.run_batch(images)
        labels = [int(p.argmax()) for p in probabilities]
        maps = gradient_times_input(lambda x: self.scores(self.differentiable, x), as_batch(images), labels,
                                    self.device)  # fmt: skip
        return list(zip(probabilities, maps, images, strict=True))

    def warmup(self) -> None:
        self.run_batch([np.zeros(self.spec.shape, np.float32)])

    def describe(self, probabilities: np.ndarray) -> dict[str, Any]:
        """One answer: label, confidence, every probability, and class names where the model has them."""
        label = int(probabilities.argmax())
        rounded = np.round(probabilities.astype(np.float64), 6).tolist()  # one numpy call, not ten round()s
        answer: dict[str, Any] = {"label": label, "confidence": rounded[label], "probabilities": rounded}
        if self.spec.named_classes:
            answer["class_name"] = self.classes[label]
        if self.classes_zh is not None:  # fashion: names in English and Chinese
            answer["class_name_zh"] = self.classes_zh[label]
        answer["model_version"] = self.version
        return answer
