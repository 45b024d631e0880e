"""The one rule for raw pixel values, whichever door they come through: numbers from 0 to 255.

A Kaggle CSV row, a JSON `pixels` list, a v2 FP32 tensor and a CSV upload are all checked by
`out_of_range`; each door names the offending element its own way (pixel 3, row 2 column pixel5,
element 3 of the tensor). NaN and the infinities are not numbers in 0–255. (Raw uint8 bytes cannot
be out of range.)
"""

from __future__ import annotations

import numpy as np

PIXEL_MAX = 255.0


def out_of_range(values: np.ndarray | list) -> np.ndarray:
    """Flat indices of the values that are not numbers in 0–255, in order."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)  # float64: 255.00001 must not round to 255
    return np.flatnonzero(~((flat >= 0.0) & (flat <= PIXEL_MAX)))  # NaN fails both comparisons
