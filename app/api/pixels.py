"""The fast lane for the commonest image requests: Kaggle rows of 784 numbers, as JSON or as raw bytes.

Validating `{"pixels": [784 numbers]}` with pydantic costs 784 Python-level checks per image,
which under load is most of what the server's one event-loop thread does. Here a well-formed
body is converted and range-checked by numpy in one step. Anything this lane does not accept —
a wrong key, a wrong length, a value out of range, text, a boolean, null — is handed back (None)
to the full pydantic validation, so every bad input still gets exactly the same clear 422.

The binary lane (`application/octet-stream`) takes N×784 raw uint8 bytes, row-major 28×28 in
Kaggle's pixel order: no parsing at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.api.inputs import check_count
from app.core.errors import InvalidInput
from app.schemas.pixels import out_of_range

SIDE = 28
PIXELS = SIDE * SIDE


def rows_from_json(payload: Any, *, limit: int, body: bytes = b"") -> tuple[list[np.ndarray], bool] | None:
    """(28×28 float32 images, was_single) for `{"pixels": [...]}` or a list of them, all valid; else None.

    `body` is the raw JSON: a `true` or `false` in it means booleans among the pixels, which numpy
    would silently read as 1 and 0 (and cannot tell apart afterwards), so validation must see them.
    """
    if b"true" in body or b"false" in body:
        return None
    single = type(payload) is dict
    items = [payload] if single else payload
    if type(items) is not list or not 0 < len(items) <= limit:
        return None
    rows = []
    for item in items:
        if type(item) is not dict or len(item) != 1:
            return None
        pixels = item.get("pixels")
        if type(pixels) is not list or len(pixels) != PIXELS:
            return None
        rows.append(pixels)
    try:
        values = np.array(rows)  # numbers only give an integer or float array; text, null or lists do not
    except ValueError:  # ragged nesting
        return None
    if values.dtype.kind not in "iuf" or values.shape != (len(rows), PIXELS):
        return None
    if out_of_range(values).size:  # the full validation then names the pixel
        return None
    return list(values.astype(np.float32).reshape(-1, SIDE, SIDE)), single


def rows_from_bytes(body: bytes, *, limit: int) -> tuple[list[np.ndarray], bool]:
    """N×784 uint8 bytes as N 28×28 float32 images (was_single when N is 1); 4xx for a length that is not N×784."""
    if not body:
        raise InvalidInput(f"the request body is empty; send N×{PIXELS} bytes (uint8 pixels)")
    count, rest = divmod(len(body), PIXELS)
    if rest:
        raise InvalidInput(
            f"the body has {len(body):,} bytes, not a multiple of {PIXELS} "
            f"(each image is {SIDE}×{SIDE} uint8 pixels, row-major)"
        )
    check_count(count, limit=limit, noun="images")
    images = np.frombuffer(body, dtype=np.uint8).reshape(count, SIDE, SIDE).astype(np.float32)
    return list(images), count == 1
