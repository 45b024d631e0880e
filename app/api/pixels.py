"""The fast lane for the commonest image requests: Kaggle rows of pixels, as JSON or as raw bytes.

Validating `{"pixels": [784 numbers]}` with pydantic costs 784 Python-level checks per image,
which under load is most of what the server's one event-loop thread does. Here a well-formed
body is converted and range-checked by numpy in one step. Anything this lane does not accept —
a wrong key, a wrong length, a value out of range, text, a boolean, null — is handed back (None)
to the full pydantic validation, so every bad input still gets exactly the same clear 422.

The binary lane (`application/octet-stream`) takes N×(H·W·C) raw uint8 bytes, row-major in Kaggle's pixel
order (28×28 for the committed models): no parsing at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.api.inputs import check_count
from app.core.errors import InvalidInput
from app.schemas.images import size_text
from app.schemas.model_meta import ImageSpec
from app.schemas.pixels import out_of_range


def rows_from_json(
    payload: Any, *, limit: int, spec: ImageSpec, body: bytes = b""
) -> tuple[list[np.ndarray], bool] | None:
    """(float32 images of the model's shape, was_single) for `{"pixels": [...]}` or a list of them, all valid;
    else None.

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
        if type(pixels) is not list or len(pixels) != spec.pixels:
            return None
        rows.append(pixels)
    try:
        values = np.array(rows)  # numbers only give an integer or float array; text, null or lists do not
    except ValueError:  # ragged nesting
        return None
    if values.dtype.kind not in "iuf" or values.shape != (len(rows), spec.pixels):
        return None
    if out_of_range(values).size:  # the full validation then names the pixel
        return None
    return list(values.astype(np.float32).reshape(-1, *spec.shape)), single


def rows_from_bytes(body: bytes, *, limit: int, spec: ImageSpec) -> tuple[list[np.ndarray], bool]:
    """N×(H·W·C) uint8 bytes as N float32 images (was_single when N is 1); 4xx for a length that is not a multiple."""
    size = spec.pixels
    if not body:
        raise InvalidInput(f"the request body is empty; send N×{size} bytes (uint8 pixels)")
    count, rest = divmod(len(body), size)
    if rest:
        raise InvalidInput(
            f"the body has {len(body):,} bytes, not a multiple of {size} "
            f"(each image is {size_text(spec)} uint8 pixels, row-major)"
        )
    check_count(count, limit=limit, noun="images")
    images = np.frombuffer(body, dtype=np.uint8).reshape(count, *spec.shape).astype(np.float32)
    return list(images), count == 1
