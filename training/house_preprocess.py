"""House-price feature preprocessing: fitted with scikit-learn, exported and applied as plain data.

Training fits a scikit-learn ColumnTransformer on the training rows only; `export_spec` turns
the fitted transformer into JSON-able data (column order, fill values, means, scales, category
lists) and `transform` applies that data with NumPy. The server uses `transform` with the JSON
file — no pickle, no scikit-learn — and a test checks it reproduces the sklearn output to 1e-6.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

ID, TARGET = "Id", "SalePrice"
MISSING_CATEGORY = "NaN"  # the course's constant for a missing category: it becomes its own one-hot column
SKEW_THRESHOLD = 0.75
# Coded as numbers in Kaggle's file but categories in meaning (e.g. MSSubClass 20 = "1-STORY 1946 & NEWER").
CATEGORICAL_CODES = ("MSSubClass",)


def category_text(value: Any) -> str:
    """The string form of a categorical value: 20, 20.0 and "20" are the same category."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def split_columns(frame: pd.DataFrame, categorical_codes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns in file order, excluding Id and SalePrice."""
    features = [c for c in frame.columns if c not in (ID, TARGET)]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c]) and c not in categorical_codes]
    return numeric, [c for c in features if c not in numeric]


def _categorical_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [category_text(v) for v in frame[c].tolist()] for c in columns}, index=frame.index)


def fit_preprocessor(
    train: pd.DataFrame, *, log_skewed: bool = True, categorical_codes: tuple[str, ...] = CATEGORICAL_CODES
) -> ColumnTransformer:
    """Fit on training rows: log1p of skewed non-negative numerics, mean-impute, standardize; one-hot categories."""
    numeric, categorical = split_columns(train, categorical_codes)
    skewed = []
    if log_skewed:
        stats = train[numeric]
        skewed = [c for c in numeric if stats[c].min() >= 0 and abs(stats[c].skew()) > SKEW_THRESHOLD]
    plain = [c for c in numeric if c not in skewed]
    transformer = ColumnTransformer(
        [
            (
                "log",
                Pipeline(
                    [("log1p", FunctionTransformer(np.log1p)), ("impute", SimpleImputer()), ("scale", StandardScaler())]
                ),
                skewed,
            ),
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), plain),
            ("cat", OneHotEncoder(handle_unknown="ignore", dtype=np.float64), categorical),
        ],
        sparse_threshold=0.0,
    )
    transformer.fit(_sklearn_input(train, numeric, categorical))
    return transformer


def _sklearn_input(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    return pd.concat([frame[numeric].astype(np.float64), _categorical_frame(frame, categorical)], axis=1)


def sklearn_transform(transformer: ColumnTransformer, frame: pd.DataFrame) -> np.ndarray:
    """Apply the fitted sklearn transformer (the reference the JSON export must reproduce)."""
    numeric = [c for name, _, cols in transformer.transformers_ if name in ("log", "num") for c in cols]
    categorical = next(cols for name, _, cols in transformer.transformers_ if name == "cat")
    return transformer.transform(_sklearn_input(frame, numeric, list(categorical)))


def export_spec(transformer: ColumnTransformer) -> dict[str, Any]:
    """The fitted transformer as plain data, in output-column order."""
    spec: dict[str, Any] = {"numeric": [], "categorical": [], "missing_category": MISSING_CATEGORY}
    for name, step, columns in transformer.transformers_:
        if name in ("log", "num"):
            imputer, scaler = step.named_steps["impute"], step.named_steps["scale"]
            for i, column in enumerate(columns):
                spec["numeric"].append(
                    {
                        "name": column,
                        "log1p": name == "log",
                        "fill": float(imputer.statistics_[i]),
                        "mean": float(scaler.mean_[i]),
                        "scale": float(scaler.scale_[i]),
                    }
                )
        elif name == "cat":
            for column, categories in zip(columns, step.categories_, strict=True):
                spec["categorical"].append({"name": column, "categories": [str(c) for c in categories]})
    spec["n_features"] = len(spec["numeric"]) + sum(len(c["categories"]) for c in spec["categorical"])
    spec["columns"] = [c["name"] for c in spec["numeric"]] + [c["name"] for c in spec["categorical"]]
    return spec


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
