"""The service's expected failures, as types: raised anywhere below the doors, mapped to statuses in one place.

Each says what kind of failure it is — the input is wrong, too large, the model is unavailable — and
carries a message for the client and a stable `code` to branch on (a subclass's default, or a more
specific one such as `invalid_csv`). Which HTTP status and which JSON shape it becomes is the doors'
business, decided once in app/api/errors.py: our `{"detail", "code"}` on our endpoints, the Open
Inference Protocol's `{"error"}` on its own. Nothing below app/api/ knows about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """An expected failure: `detail` for a person, `code` for a program, `extra` fields for the answer."""

    code: ClassVar[str] = "error"

    def __init__(self, detail: str, *, code: str | None = None, retry_after_s: int | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.code = code or type(self).code  # type: ignore[misc]  # an instance may name itself more precisely
        self.retry_after_s = retry_after_s  # when trying again later can work: how much later
        self.extra = extra


class BadRequest(ServiceError):
    """The request cannot be read at all (not JSON, a broken tensor header)."""

    code = "bad_request"


class InvalidInput(ServiceError):
    """Readable, but not something the model can take; the detail says what and where."""

    code = "invalid_input"


class TooLarge(ServiceError):
    """Over a configured limit; the detail names the limit and its setting."""

    code = "too_large"


class UnsupportedMediaType(ServiceError):
    code = "unsupported_media_type"


class NotFound(ServiceError):
    code = "not_found"


class Unauthorized(ServiceError):
    code = "unauthorized"


class Forbidden(ServiceError):
    """Refused whoever asks (model control switched off)."""

    code = "forbidden"


class TooManyRequests(ServiceError):
    """This client has too much of one kind of work in flight (app/core/client_limits.py)."""

    code = "too_many_requests"


class Unavailable(ServiceError):
    """The model cannot answer now: not loaded, its queue full, or it failed on this input."""

    code = "model_unavailable"


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's error list as [{"field": "pixels.3", "message": "...", "type": "greater_than_equal"}].

    `type` is pydantic's stable error type: what a program (or the playground, to say it in Chinese) branches
    on, while `message` is for a person.
    """
    out = []
    for err in errors:
        kind = str(err.get("type", "value_error"))
        message = "unknown field" if kind == "extra_forbidden" else err.get("msg", "invalid value")
        out.append({"field": _field_path(tuple(err.get("loc", ()))), "message": message, "type": kind})
    return out


def _field_path(loc: tuple[Any, ...]) -> str:
    # "one"/"many" are the tags of one_or_many() unions: noise for the client.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "one", "many")]
    return ".".join(parts) or "body"


def summarize(errors: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return shown + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")


def invalid_fields(errors: list[dict[str, Any]]) -> InvalidInput:
    """A pydantic ValidationError's errors as one InvalidInput, with the per-field list attached."""
    fields = field_errors(errors)
    return InvalidInput(summarize(fields), errors=fields)
