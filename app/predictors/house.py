"""Plain-Python house-price prediction: Kaggle-named columns → preprocess.json → model → dollars.

The preprocessing is `app.predictors.house_features.transform`, the very function whose output
training checked against scikit-learn: serving cannot drift from training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from app.predictors.house_features import transform


class HousePricer:
    """`spec` is the model's preprocess.json: the exported preprocessing, as plain data."""

    def __init__(self, module: Any, spec: dict[str, Any], device: torch.device) -> None:
        self.module, self.spec, self.device = module, spec, device

    def features(self, rows: list[dict[str, Any]]) -> list[np.ndarray]:
        """Kaggle-named records (missing keys and None allowed) → one feature vector per row."""
        frame = pd.DataFrame(rows, columns=self.spec["columns"])  # absent keys and columns become missing values
        matrix = transform(self.spec, frame).astype(np.float32)
        return list(matrix)

    def run_batch(self, features: list[np.ndarray]) -> list[float]:
        x = torch.from_numpy(np.stack(features)).to(self.device)
        with torch.inference_mode():
            log_price = self.module(x).double().cpu().numpy()
        return [float(p) for p in np.exp(log_price)]

    def warmup(self) -> None:
        self.run_batch(self.features([{}]))
