"""The optional API key: when API_KEY is set, prediction and generation need `X-API-Key`."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from app.core.errors import ApiError

# auto_error=False: a missing header must give our 401 shape, not FastAPI's 403.
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Required when API_KEY is set")


async def require_api_key(request: Request, given: Annotated[str | None, Security(api_key_header)]) -> None:
    """Declared through Security so Swagger UI offers an "Authorize" button for the key."""
    expected = request.app.state.settings.api_key
    if expected is None:
        return
    given = given or ""
    # Constant-time comparison: response timing must not reveal how much of a guess was right.
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", "missing or wrong API key (send it in the X-API-Key header)",
                       headers={"WWW-Authenticate": "APIKey"})  # fmt: skip
