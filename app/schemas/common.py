"""Schema helpers shared by the endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Field, Tag

ONE, MANY = "one", "many"


def _one_or_many(value: Any) -> str:
    return MANY if isinstance(value, list) else ONE


def one_or_many(model: type) -> Any:
    """`model | list[model]`, told apart by the JSON's shape before validating.

    A plain union would validate against both branches and report both sets of errors
    ("…: Input should be a valid list" for an object); this reports only the relevant ones.
    """
    return Annotated[
        Annotated[model, Tag(ONE)] | Annotated[list[model], Tag(MANY)],
        Discriminator(_one_or_many),
    ]


class FieldError(BaseModel):
    field: str = Field(description="Where in the request, e.g. `pixels.3` or `body`")
    message: str = Field(description="What is wrong with it")
    type: str = Field(
        description="Pydantic's error type, stable for programs: `missing`, `greater_than_equal`, `literal_error`, …",
        examples=["greater_than_equal"],
    )


class ErrorBody(BaseModel):
    """Every error answer: what is wrong, and a stable code to branch on."""

    detail: str = Field(description="What is wrong, for a person")
    code: str = Field(description="Stable machine-readable code, e.g. invalid_input, too_large, queue_full")
    errors: list[FieldError] | None = Field(None, description="Validation errors, one per field (422 only)")


_MEANINGS = {
    400: "Malformed body: not JSON, or a broken multipart form",
    401: "Missing or wrong X-API-Key (only when API_KEY is set)",
    404: "No model of that name in the repository",
    408: "The request body did not arrive within BODY_TIMEOUT_S",
    413: "Input over a configured limit (body, image, list or CSV size)",
    415: "Unsupported Content-Type",
    422: "Invalid input: the detail says what and where",
    429: "This client has too many of these costly requests in flight (PER_CLIENT_*); with Retry-After",
    503: "Model down, or its queue full (then with Retry-After)",
}


class V2ErrorBody(BaseModel):
    """Every error answer of the Open Inference Protocol (/v2): its own shape, which its clients parse."""

    error: str = Field(description="What is wrong")


_V2_MEANINGS = {
    400: "A malformed request or tensor (name, datatype, shape, byte size, values), or a failed load",
    401: "Missing or wrong X-API-Key (only when API_KEY is set), or X-Admin-Key for load/unload",
    403: "Model control is disabled (MODEL_CONTROL=none): load and unload are refused",
    404: "No such model, or not the version being served",
    413: "Over a configured limit (body size, images or houses in one request)",
    429: "This client has too many poems or reloads in flight (PER_CLIENT_*); with Retry-After",
    503: "Model down (unloaded, failed to load) or its queue full",
}


def error_responses(*codes: int, v2: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses: the ErrorBody shape, or the v2 protocol's `{"error"}`."""
    model, meanings = (V2ErrorBody, _V2_MEANINGS) if v2 else (ErrorBody, _MEANINGS)
    return {code: {"model": model, "description": meanings[code]} for code in codes}
