"""JSON in and out of the hot path with orjson: several times faster than the standard library.

Decoding falls back to the standard library when orjson refuses a body, because the standard
library also reads the non-standard NaN and Infinity that some clients send: those must reach
validation and get its clear 422 ("pixel 500 is nan, outside 0–255"), not a bare syntax error.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response


def loads(body: bytes) -> Any:
    """Parse a JSON body; raises ValueError (json.JSONDecodeError or UnicodeDecodeError) with the stdlib's message."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)  # NaN/Infinity, or the same error with the standard library's wording
    except RecursionError as exc:  # orjson stops at 1,024 levels; the standard library would overflow the stack
        raise ValueError("nested too deeply") from exc


class FastJSONResponse(Response):
    """A JSON response rendered by orjson (numpy numbers and arrays included); compact UTF-8 like FastAPI's own."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
