"""House-price feature preprocessing: fitted with scikit-learn, exported and applied as plain data.

Training fits a scikit-learn ColumnTransformer on the training rows only; `export_spec` turns
the fitted transformer into JSON-able data (column order, fill values, means, scales, category
lists) and `transform` (app/predictors/house_features.py, which the server owns) applies that
data with NumPy — no pickle, no scikit-learn at serving time — and a test checks it reproduces
the sklearn output to 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

# Serving owns the transform (it runs for every request); training fits what it applies.
from app.predictors.tabular_features import MISSING_CATEGORY, category_text

ID, TARGET = "Id", "SalePrice"
SKEW_THRESHOLD = 0.75
# Coded as numbers in Kaggle's file but categories in meaning (e.g. MSSubClass 20 = "1-STORY 1946 & NEWER").
CATEGORICAL_CODES = ("MSSubClass",)


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
