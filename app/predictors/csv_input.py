"""Parsing uploaded CSV files in Kaggle's formats, with errors that name the row and column.

Errors are typed (TooLarge for a limit, InvalidInput with code `invalid_csv` for content), so the
batch endpoints only have to call these functions.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from app.core.errors import InvalidInput, TooLarge
from app.predictors.image_input import pixel_columns
from app.schemas.model_meta import ImageSpec, TabularSpec
from app.schemas.pixels import out_of_range


def invalid_csv(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="invalid_csv")


def read_csv(data: bytes, *, max_rows: int, **options: Any) -> pd.DataFrame:
    """Parse CSV bytes; refuse more than `max_rows` data rows before parsing them all."""
    # Count lines first: cheap, and it keeps a 10-million-row upload from being parsed at all.
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines - 1 > max_rows:
        raise TooLarge(f"the CSV has {lines - 1:,} rows; the limit is {max_rows:,} (MAX_CSV_ROWS)")
    try:
        frame = pd.read_csv(io.BytesIO(data), **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise invalid_csv(f"the file is not a readable CSV: {str(exc).strip()[:200]}") from exc
    if frame.empty:
        raise invalid_csv("the CSV has a header but no rows")
    if len(frame) > max_rows:
        raise TooLarge(f"the CSV has {len(frame):,} rows; the limit is {max_rows:,} (MAX_CSV_ROWS)")
    return frame


def _unexpected_columns(found: list[str], allowed: list[str]) -> str:
    extra = [c for c in found if c not in allowed]
    missing = [c for c in allowed if c not in found]
    parts = []
    if extra:
        parts.append(f"unexpected columns {extra[:5]}" + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))
    if missing:
        parts.append(f"missing columns {missing[:5]}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    return "; ".join(parts)


def parse_pixel_csv(data: bytes, *, max_rows: int, spec: ImageSpec) -> np.ndarray:
    """A Kaggle image CSV (pixel0.. or pixel1.., one column per value, optional `label`) → N images of the model's
    shape, float32."""
    count = spec.pixels
    frame = read_csv(data, max_rows=max_rows)
    columns = [str(c) for c in frame.columns]
    pixels = [c for c in columns if c != "label"]
    if pixels not in (pixel_columns(0, count), pixel_columns(1, count)):
        expected = pixel_columns(1, count) if f"pixel{count}" in columns else pixel_columns(0, count)
        problem = _unexpected_columns(pixels, expected) or "pixel columns out of order"
        raise invalid_csv(
            f"expected an optional `label` and {count} pixel columns "
            f"(pixel0..pixel{count - 1} or pixel1..pixel{count}): {problem}"
        )
    values = frame[pixels].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)  # text → NaN
    bad = out_of_range(values)
    if bad.size:
        row, col = divmod(int(bad[0]), count)
        raw = frame[pixels[col]].iloc[row]
        raise invalid_csv(
            f"row {row + 1}, column {pixels[col]}: {raw!r} is not a number in 0–255 ({bad.size:,} bad cells in all)"
        )
    return values.astype(np.float32).reshape(-1, *spec.shape)


def parse_tabular_csv(data: bytes, *, max_rows: int, spec: TabularSpec) -> tuple[list[int], list[dict[str, Any]]]:
    """A Kaggle-style CSV (the id column + feature columns, the target ignored) → (ids, records, None = missing)."""
    # Kaggle writes a missing value as "NA": pandas' defaults read it as missing, as training did.
    frame = read_csv(data, max_rows=max_rows)
    columns = [str(c) for c in frame.columns]
    features = [column.name for column in spec.columns]
    allowed = [spec.id_column, *features, spec.target]
    extra = [c for c in columns if c not in allowed]
    if extra or spec.id_column not in columns:
        problem = f"unknown columns {extra[:10]}" if extra else f"no `{spec.id_column}` column"
        raise invalid_csv(f"expected Kaggle's columns ({spec.id_column} and the {len(features)} features): "
                          f"{problem}")  # fmt: skip
    ids = pd.to_numeric(frame[spec.id_column], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        row = int(np.flatnonzero(ids.isna() | (ids % 1 != 0))[0])
        raise invalid_csv(f"row {row + 1}: {spec.id_column} {frame[spec.id_column].iloc[row]!r} is not an integer")
    records = frame[[c for c in columns if c in features]].astype(object).where(frame.notna(), None)
    return [int(i) for i in ids], records.to_dict(orient="records")
