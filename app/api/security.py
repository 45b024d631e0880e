"""Who may call what: the user API key (predictions) and the admin key (loading and unloading models).

Two secrets, two checks. `API_KEY` gates prediction and generation; `ADMIN_API_KEY` gates the model
repository's load and unload, which only exist when `MODEL_CONTROL=explicit` (with `none`, the default,
they are refused whoever asks). Neither key opens the other's door; an operator who wants one key for
both sets both to the same value, which start-up logs as a warning (app/main.py).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from app.core.config import Settings
from app.core.errors import Forbidden, Unauthorized

API_KEY_HEADER = "X-API-Key"
ADMIN_KEY_HEADER = "X-Admin-Key"
# auto_error=False: a missing header must give our 401 shape, not FastAPI's 403. Named schemes: by default
# both would be "APIKeyHeader" in the OpenAPI document, and one would silently replace the other.
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, scheme_name="APIKey", auto_error=False, description="Required when API_KEY is set"
)
admin_key_header = APIKeyHeader(
    name=ADMIN_KEY_HEADER, scheme_name="AdminKey", auto_error=False,
    description="ADMIN_API_KEY: loads and unloads models (with MODEL_CONTROL=explicit)",
)  # fmt: skip


def _matches(given: str | None, expected: SecretStr) -> bool:
    """Whether `given` is one of the comma-separated keys (one per client, so the limits tell clients apart)."""
    given_bytes = (given or "").encode()
    keys = [key.strip().encode() for key in expected.get_secret_value().split(",") if key.strip()]
    # Constant-time comparisons, every key tried: timing must not reveal how much of a guess was right, or which.
    return bool(sum(hmac.compare_digest(given_bytes, key) for key in keys))


def key_identity(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]  # the client's name in the limits, not its key


def identity(settings: Settings, key: str | None, address: str | None) -> str:
    """Who is calling, for the per-client limits: the API key it sent where keys are required (and so checked),
    else its address."""
    if settings.api_key is not None and key:
        return key_identity(key)
    return "address:" + (address or "unknown")


def client_identity(request: Request) -> str:
    """The HTTP caller's identity; its address is a proxy's client when TRUSTED_PROXIES names the proxy."""
    address = request.client.host if request.client else None
    return identity(request.app.state.settings, request.headers.get(API_KEY_HEADER), address)


ADMIN_IDENTITY = "admin"  # the one holder of ADMIN_API_KEY: its reloads count together, whichever door


def admin_identity(request: Request) -> str:
    """The admin, checked before this is asked."""
    return ADMIN_IDENTITY


def check_api_key(settings: Settings, given: str | None, *, sent_in: str = f"the {API_KEY_HEADER} header") -> None:
    """Unauthorized unless no key is required or `given` is one; `sent_in` tells the client where it goes."""
    if settings.api_key is not None and not _matches(given, settings.api_key):
        raise Unauthorized(f"missing or wrong API key (send it in {sent_in})")


def check_model_control(
    settings: Settings, given: str | None, *, sent_in: str = f"the {ADMIN_KEY_HEADER} header"
) -> None:
    """Load and unload: refused unless MODEL_CONTROL=explicit, then only with the admin key."""
    if settings.model_control != "explicit":
        raise Forbidden(
            "model control is disabled (MODEL_CONTROL=none): models cannot be loaded or unloaded at run time; start "
            f"the service with MODEL_CONTROL=explicit and ADMIN_API_KEY set, then send that key in {sent_in}",
            code="model_control_disabled",
        )
    if settings.admin_api_key is None or not _matches(given, settings.admin_api_key):  # explicit always has one
        raise Unauthorized(f"missing or wrong admin key (send ADMIN_API_KEY in {sent_in})")


async def require_api_key(request: Request, given: Annotated[str | None, Security(api_key_header)]) -> None:
    """Declared through Security so Swagger UI offers an "Authorize" button for the key."""
    check_api_key(request.app.state.settings, given)


async def require_model_control(request: Request, given: Annotated[str | None, Security(admin_key_header)]) -> None:
    check_model_control(request.app.state.settings, given)
