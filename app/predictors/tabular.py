"""Plain-Python prediction for tabular regression: named columns → the model's preprocessing → model → target.

The preprocessing is `app.predictors.tabular_features.transform` applied to the model's preprocess.json, the
very function whose output training checked against scikit-learn: serving cannot drift from training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from app.predictors.tabular_features import transform


class TabularRegressor:
    """`preprocess` is the model's preprocess.json (the exported preprocessing, as plain data); `transform`
    what turns the network's output into the target (`exp` for a network that predicts its log)."""

    def __init__(self, module: Any, preprocess: dict[str, Any], device: torch.device, transform: str = "none") -> None:
        self.module, self.spec, self.device, self.transform = module, preprocess, device, transform

    def features(self, rows: list[dict[str, Any]]) -> list[np.ndarray]:
        """Records keyed by column name (missing keys and None allowed) → one feature vector per row."""
        frame = pd.DataFrame(rows, columns=self.spec["columns"])  # absent keys and columns become missing values
        matrix = transform(self.spec, frame).astype(np.float32)
        return list(matrix)

    def run_batch(self, features: list[np.ndarray]) -> list[float]:
        x = torch.from_numpy(np.stack(features)).to(self.device)
        with torch.inference_mode():
            output = self.module(x).double().cpu().numpy().reshape(len(features), -1)[:, 0]
        return [float(p) for p in (np.exp(output) if self.transform == "exp" else output)]

    def warmup(self) -> None:
        self.run_batch(self.features([{}]))
