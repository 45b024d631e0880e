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
from app.predictors.image_input import N_PIXELS, pixel_columns
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


def parse_pixel_csv(data: bytes, *, max_rows: int) -> np.ndarray:
    """A Kaggle image CSV (pixel0..pixel783 or pixel1..pixel784, optional `label`) → N×28×28 float32."""
    frame = read_csv(data, max_rows=max_rows)
    columns = [str(c) for c in frame.columns]
    pixels = [c for c in columns if c != "label"]
    if pixels not in (pixel_columns(0), pixel_columns(1)):
        expected = pixel_columns(1) if "pixel784" in columns else pixel_columns(0)
        problem = _unexpected_columns(pixels, expected) or "pixel columns out of order"
        raise invalid_csv(
            f"expected an optional `label` and {N_PIXELS} pixel columns "
            f"(pixel0..pixel783 or pixel1..pixel784): {problem}"
        )
    values = frame[pixels].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)  # text → NaN
    bad = out_of_range(values)
    if bad.size:
        row, col = divmod(int(bad[0]), N_PIXELS)
        raw = frame[pixels[col]].iloc[row]
        raise invalid_csv(
            f"row {row + 1}, column {pixels[col]}: {raw!r} is not a number in 0–255 ({bad.size:,} bad cells in all)"
        )
    return values.astype(np.float32).reshape(-1, 28, 28)


def parse_house_csv(data: bytes, *, max_rows: int, features: list[str]) -> tuple[list[int], list[dict[str, Any]]]:
    """Kaggle's house CSV (Id + feature columns, SalePrice ignored) → (ids, records with None for missing)."""
    # Kaggle writes a missing value as "NA": pandas' defaults read it as missing, as training did.
    frame = read_csv(data, max_rows=max_rows)
    columns = [str(c) for c in frame.columns]
    allowed = ["Id", *features, "SalePrice"]
    extra = [c for c in columns if c not in allowed]
    if extra or "Id" not in columns:
        problem = f"unknown columns {extra[:10]}" if extra else "no `Id` column"
        raise invalid_csv(f"expected Kaggle's columns (Id and the 79 features): {problem}")
    ids = pd.to_numeric(frame["Id"], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        row = int(np.flatnonzero(ids.isna() | (ids % 1 != 0))[0])
        raise invalid_csv(f"row {row + 1}: Id {frame['Id'].iloc[row]!r} is not an integer")
    records = frame[[c for c in columns if c in features]].astype(object).where(frame.notna(), None)
    return [int(i) for i in ids], records.to_dict(orient="records")
