"""Reading request bodies that may come as JSON or as a multipart file upload.

FastAPI's parameter declarations cannot express "this JSON *or* that file" on one endpoint, so
these endpoints read the body themselves and describe both forms in OpenAPI (`openapi_extra`),
which keeps Swagger's "Try it out" working for either.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from app.core import fast_json
from app.core.errors import BadRequest, InvalidInput, TooLarge, invalid_fields


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body:
        raise InvalidInput("the request body is empty; send JSON or upload a file")
    try:
        return fast_json.loads(body)
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from exc


def validate(adapter: TypeAdapter, payload: Any) -> Any:
    """Validate with pydantic, its errors as one InvalidInput naming each field."""
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        raise invalid_fields(list(exc.errors())) from exc


def as_items(payload: Any, *, limit: int, noun: str) -> tuple[list[Any], bool]:
    """A one-or-many payload as (items, was_single), refusing an empty list and lists over MAX_LIST_ITEMS."""
    single = not isinstance(payload, list)
    items = [payload] if single else payload
    if not items:
        raise InvalidInput(f"the list of {noun} is empty")
    check_count(len(items), limit=limit, noun=noun)
    return items, single


def check_count(count: int, *, limit: int, noun: str, setting: str = "MAX_LIST_ITEMS") -> None:
    """413 when one request carries more items than a limit (a JSON list, images in raw bytes, explained images)."""
    if count > limit:
        raise TooLarge(f"{count} {noun} in one request; the limit is {limit} ({setting})")


async def read_upload(request: Request, field: str = "file", *, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and file name of the multipart field `field`; 413 past `max_bytes`, 422 when absent."""
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        present = ", ".join(sorted(form.keys())) or "none"
        raise InvalidInput(f"expected a file in the multipart field `{field}` (fields sent: {present})")
    data = await upload.read(max_bytes + 1)
    await upload.close()
    if len(data) > max_bytes:
        raise TooLarge(f"the uploaded file is larger than the limit of {max_bytes:,} bytes")
    if not data:
        raise InvalidInput(f"the uploaded file `{upload.filename}` is empty")
    return data, upload.filename or "upload"


def decode_base64(text: str, *, max_bytes: int) -> bytes:
    """Decode a base64 string (an optional data-URL prefix is allowed), refusing oversized payloads early."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) * 3 // 4 > max_bytes + 3:
        raise TooLarge(f"the image is larger than the limit of {max_bytes:,} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("`image` is not valid base64") from exc


def file_body_openapi(
    json_schema: dict[str, Any],
    examples: dict[str, Any],
    description: str,
    raw: str = "N×784 uint8 pixels, row-major 28×28 in Kaggle's order",
) -> dict[str, Any]:
    """An OpenAPI requestBody offering JSON (with named examples), a multipart file upload, or raw pixel bytes."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/json": {"schema": json_schema, "examples": examples},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary", "description": "An image file"}},
                        "required": ["file"],
                    }
                },
                "application/octet-stream": {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": f"{raw} (numpy: images.astype(np.uint8).tobytes()); one answer for "
                        "one image's bytes, a list for more",
                    }
                },
            },
        }
    }


def csv_upload_openapi(description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary", "description": description}},
                        "required": ["file"],
                    }
                }
            },
        }
    }
