"""Plain-Python prediction for the two image classifiers (digit, fashion), testable without HTTP."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from app.predictors.saliency import gradient_times_input


class ImageClassifier:
    """Runs a batch of 28×28 arrays (0–255, light on dark) through the model; returns probabilities.

    `module` is what serves (possibly frozen and optimized); `differentiable` the module to take gradients
    through for saliency maps (the committed one: optimized modules have no backward).
    """

    def __init__(self, module: Any, differentiable: Any, device: torch.device, version: str,
                 classes: list[str] | None = None, classes_zh: list[str] | None = None) -> None:  # fmt: skip
        self.module, self.differentiable, self.device, self.version = module, differentiable, device, version
        self.classes: list[str] = classes or [str(i) for i in range(10)]
        self.classes_zh = classes_zh

    def run_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        x = torch.from_numpy(np.stack(images).astype(np.float32, copy=False)).unsqueeze(1).to(self.device)
        with torch.inference_mode():
            probabilities = torch.softmax(self.module(x).float(), dim=1).cpu().numpy()
        return list(probabilities)

    def explain(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(probabilities, saliency map, image) per image: which pixels drove each answer (app/predictors/saliency.py).

        Runs on the model's thread. The probabilities come from run_batch, the served module's own pass, so an
        explained answer is the plain answer plus its map; the gradient pass runs the committed module again
        (one more forward, a few milliseconds), since the served one has no backward.
        """
        probabilities = self.run_batch(images)
        labels = [int(p.argmax()) for p in probabilities]
        maps = gradient_times_input(self.differentiable, images, labels, self.device)
        return list(zip(probabilities, maps, images, strict=True))

    def warmup(self) -> None:
        self.run_batch([np.zeros((28, 28), np.float32)])

    def describe(self, probabilities: np.ndarray) -> dict[str, Any]:
        """One answer: label, confidence, all ten probabilities, class names where the model has them."""
        label = int(probabilities.argmax())
        rounded = np.round(probabilities.astype(np.float64), 6).tolist()  # one numpy call, not ten round()s
        answer: dict[str, Any] = {"label": label, "confidence": rounded[label], "probabilities": rounded}
        if self.classes_zh is not None:  # fashion: names in English and Chinese
            answer["class_name"] = self.classes[label]
            answer["class_name_zh"] = self.classes_zh[label]
        answer["model_version"] = self.version
        return answer
