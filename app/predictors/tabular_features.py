"""Tabular features from named columns (the house model: Kaggle's), by the plain-data spec in preprocess.json.

Training (training/house_preprocess.py) fits a scikit-learn ColumnTransformer and exports it as
this spec — column order, fill values, means, scales, category lists; the server applies it here
with NumPy and pandas only, so serving never imports scikit-learn (~65 MB of resident memory).
A training test checks this reproduces the fitted scikit-learn output to 1e-6.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MISSING_CATEGORY = "NaN"  # the course's constant for a missing category: it becomes its own one-hot column


def category_text(value: Any) -> str:
    """The string form of a categorical value: 20, 20.0 and "20" are the same category."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def transform(spec: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Apply an exported spec to rows keyed by Kaggle's column names (missing columns count as missing values)."""
    n = len(frame)
    blocks = []
    for col in spec["numeric"]:
        raw = pd.to_numeric(frame[col["name"]], errors="raise") if col["name"] in frame else pd.Series([np.nan] * n)
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        if col["log1p"]:
            values = np.log1p(values)
        values = np.where(np.isnan(values), col["fill"], values)
        blocks.append(((values - col["mean"]) / col["scale"])[:, None])
    for col in spec["categorical"]:
        texts = [category_text(v) for v in frame[col["name"]].tolist()] if col["name"] in frame else ["NaN"] * n
        index = {c: i for i, c in enumerate(col["categories"])}
        onehot = np.zeros((n, len(col["categories"])))
        for row, text in enumerate(texts):
            if text in index:  # an unseen category leaves the row all zeros, as OneHotEncoder(ignore) does
                onehot[row, index[text]] = 1.0
        blocks.append(onehot)
    return np.hstack(blocks) if blocks else np.zeros((n, 0))
