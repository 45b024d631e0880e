"""`dlserve import --task tabular-regression`: the course's house-price network, with the course's preprocessing.

The course (4.10) prepares Kaggle's houses in three steps over the training and test features together:
every numeric column standardized (pandas' mean and standard deviation), its missing values then set to 0
(the mean), and every text column one-hot encoded with a column for "missing" (`pd.get_dummies(...,
dummy_na=True)`). The course picks the numeric columns by `dtypes != 'object'`; pandas 3 reads text as a
string type of its own, so here a column is numeric by `is_numeric_dtype`, the same split. Here those steps
are fitted on the CSV files given — the numeric columns first, then each text column's categories in sorted
order with "NaN" last, as get_dummies orders them — and written as the plain-data preprocess.json the server
applies (app/predictors/tabular_features.py). Before anything is written, the network is run on the course's
own pandas features of the first rows and, loaded back from the folder as the server loads it, on the same
rows as raw records: the answers must agree.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from app.models.importer import (
    ImportRefused,
    Network,
    answers,
    commit,
    original_network,
    provenance,
    served_predictor,
    spec_of,
    staged,
    target_folder,
    write_meta,
    write_network,
)
from app.models.optimize import difference
from app.predictors.tabular_features import MISSING_CATEGORY
from app.schemas.model_meta import TABULAR

PROBE_ROWS = 64  # the first rows of the first CSV: what the folder is checked on


@dataclass(frozen=True)
class TabularImport(Network):
    """What `dlserve import` was asked for a tabular regressor (the CLI's arguments)."""

    tables: list[Path] = field(default_factory=list)  # the course's train.csv (and test.csv): columns and statistics
    target: str = "target"  # the column the network predicts (dropped from the features)
    id_column: str = "Id"  # Kaggle's row id (dropped from the features, echoed in CSV answers)
    field: str | None = None  # the JSON answer's key: snake_case of the target when not given
    version: str = "1"


def import_tabular_regressor(request: TabularImport, model_dir: Path, *, force: bool = False) -> Path:
    """Write and verify `model_dir/<name>/`; the folder, or ImportRefused saying why nothing was written."""
    target = target_folder(request, model_dir, force)
    features = _feature_table(request)
    preprocess, reference = course_preprocessing(features)
    columns = [_column(features[name]) for name in features.columns]
    field_name = request.field or re.sub(r"(?<!^)(?=[A-Z])", "_", request.target).lower()
    meta = {"name": request.name, "version": request.version, "task": TABULAR,
            "input": {"columns": columns, "preprocess": "preprocess.json", "id_column": request.id_column,
                      "shape": [-1, preprocess["n_features"]]},
            "output": {"target": request.target, "field": field_name, "noun": request.target, "transform": "none"},
            "imported": provenance(request) | {"tables": [path.name for path in request.tables],
                                               "preprocessing": "the course's (4.10)"}}  # fmt: skip
    spec_of(meta)  # a refusal names what is wrong before the network is even loaded
    original = original_network(request)
    probe = torch.from_numpy(reference[:PROBE_ROWS])
    want = answers(original, probe, "the network", f"{preprocess['n_features']} features (the course's preprocessing)")
    if want.dim() == 1:
        want = want[:, None]
    if want.shape != (len(probe), 1):
        raise ImportRefused(f"the network answers shape {list(want.shape)} for {len(probe)} rows, not one value each")
    if not torch.isfinite(want).all():
        raise ImportRefused("the network answers NaN or infinity on the first rows")
    with staged(request, model_dir) as staging:
        (staging / "preprocess.json").write_text(json.dumps(preprocess), encoding="utf-8")
        artifact = write_network(request, original, staging, probe)
        data = (staging / artifact).read_bytes()
        meta |= {"artifact": artifact, "sha256": hashlib.sha256(data).hexdigest(),
                 "probe": {"rows": len(probe), "predictions": [round(float(v), 6) for v in want[:, 0]]}}  # fmt: skip
        write_meta(staging, meta)
        rows = features.iloc[:PROBE_ROWS].astype(object).where(features.iloc[:PROBE_ROWS].notna(), None)
        _check_served(staging, rows.to_dict("records"), want)
        commit(staging, target)
    return target


def _feature_table(request: TabularImport) -> pd.DataFrame:
    """The CSVs' feature columns, concatenated as the course concatenates train and test."""
    if not request.tables:
        raise ImportRefused("a tabular model needs its columns: --columns-from train.csv (and test.csv)")
    frames = []
    for path in request.tables:
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise ImportRefused(f"{path.name} cannot be read as CSV ({type(exc).__name__}: {exc})") from exc
        frames.append(frame.drop(columns=[c for c in (request.id_column, request.target) if c in frame]))
    names = list(frames[0].columns)
    for path, frame in zip(request.tables[1:], frames[1:], strict=True):
        if list(frame.columns) != names:
            raise ImportRefused(f"{path.name} has other feature columns than {request.tables[0].name}")
    if not names:
        raise ImportRefused(f"{request.tables[0].name} has no feature columns besides {request.id_column}")
    return pd.concat(frames, ignore_index=True)


def course_preprocessing(features: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray]:
    """(the spec the server applies, the course's own pandas features of every row, float32)."""
    numeric = [name for name in features.columns if pd.api.types.is_numeric_dtype(features[name])]
    texts = [name for name in features.columns if name not in numeric]
    stats = features[numeric].agg(["mean", "std"]) if numeric else None
    spec_numeric = []
    for name in numeric:
        mean, std = float(stats.loc["mean", name]), float(stats.loc["std", name])
        if not np.isfinite(mean) or not std > 0:
            raise ImportRefused(f"column {name!r} has no spread to standardize by (std {std})")
        spec_numeric.append({"name": name, "log1p": False, "fill": mean, "mean": mean, "scale": std})
    categorical = []
    for name in texts:
        seen = sorted(str(v) for v in features[name].dropna().unique())
        categorical.append({"name": name, "categories": [*seen, MISSING_CATEGORY]})
    # The course's code, as the course runs it: what the network was trained on.
    frame = features.copy()
    frame[numeric] = frame[numeric].apply(lambda column: (column - column.mean()) / column.std())
    frame[numeric] = frame[numeric].fillna(0)
    reference = pd.get_dummies(frame, dummy_na=True).astype(np.float32).to_numpy()
    preprocess = {"numeric": spec_numeric, "categorical": categorical, "missing_category": MISSING_CATEGORY,
                  "n_features": reference.shape[1], "columns": list(features.columns)}  # fmt: skip
    return preprocess, reference


def _column(values: pd.Series) -> dict[str, Any]:
    if not pd.api.types.is_numeric_dtype(values):
        return {"name": str(values.name), "kind": "category"}
    return {"name": str(values.name), "kind": "number",
            "seen_min": float(values.min()), "seen_max": float(values.max())}  # fmt: skip


def _check_served(folder: Path, rows: list[dict[str, Any]], want: torch.Tensor) -> None:
    """Load the folder as the server does and price the raw rows: the answers must be the network's own."""
    _, regressor = served_predictor(folder)
    with torch.inference_mode():
        got = torch.tensor(np.stack(regressor.run_batch(regressor.features(rows))), dtype=torch.float32).reshape(-1, 1)
    scale = want.abs().clamp(min=1.0)  # prices: compare relative to their size
    problem = difference([want / scale], [got / scale])
    if problem is not None:
        raise ImportRefused(f"the folder, loaded as the server loads it, answers unlike the network: {problem}")
