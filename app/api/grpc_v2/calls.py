"""What every gRPC call gets, whichever method: its metadata, its caller, its status code, one log line, metrics.

The typed failures of app/core/errors.py become the protocol's status codes here, once, as they become
HTTP statuses in app/api/errors.py: a request the model cannot take is INVALID_ARGUMENT, a missing key
UNAUTHENTICATED, a client over its limit or a full queue RESOURCE_EXHAUSTED (try again later: Triton's
and gRPC's convention), a model not loaded UNAVAILABLE. Each refusal carries the stable `code` in the
trailing metadata `dlserve-code` (and `retry-after` where waiting helps), beside the request id.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import grpc

from app.api.request_context import safe_request_id
from app.core.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from app.core.logging_setup import log_access
from app.core.metrics import Metrics

logger = logging.getLogger("dlserve")
Code = grpc.StatusCode
STATUS: dict[type[ServiceError], grpc.StatusCode] = {
    BadRequest: Code.INVALID_ARGUMENT,
    InvalidInput: Code.INVALID_ARGUMENT,
    TooLarge: Code.INVALID_ARGUMENT,
    UnsupportedMediaType: Code.INVALID_ARGUMENT,
    NotFound: Code.NOT_FOUND,
    Unauthorized: Code.UNAUTHENTICATED,
    Forbidden: Code.PERMISSION_DENIED,
    TooManyRequests: Code.RESOURCE_EXHAUSTED,
    Unavailable: Code.UNAVAILABLE,
}
API_KEY = "x-api-key"  # gRPC metadata keys are lower-case; the same names as the HTTP headers
ADMIN_KEY = "x-admin-key"


def status_of(error: ServiceError) -> grpc.StatusCode:
    if isinstance(error, Unavailable) and error.code == "queue_full":
        return Code.RESOURCE_EXHAUSTED  # the model is there, only busy: a retry later works
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


def peer_address(peer: str) -> str | None:
    """The caller's address from gRPC's peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return None


class Call:
    """One call's context: its metadata, request id, and what the handler learns (model, batch size)."""

    def __init__(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.method, self.context = method, context
        self.metadata: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if isinstance(value, str):  # "-bin" keys carry bytes: nothing of ours
                self.metadata.setdefault(key, value)
        self.request_id = safe_request_id(self.metadata.get("x-request-id"))
        self.address = peer_address(context.peer() or "")
        self.code = Code.OK
        self.model: str | None = None
        self.batch_size: int | None = None
        self.first_char_ms: float | None = None
        self.started = time.perf_counter()

    def trailers(self, error: ServiceError | None = None) -> tuple[tuple[str, str], ...]:
        found = [("x-request-id", self.request_id)]
        if error is not None:
            found.append(("dlserve-code", error.code))
            if error.retry_after_s is not None:
                found.append(("retry-after", str(error.retry_after_s)))
        return tuple(found)

    async def refuse(self, error: ServiceError) -> None:
        """End the call with the failure's status (raises grpc's AbortError, as context.abort does)."""
        self.code = status_of(error)
        await self.context.abort(self.code, error.detail, trailing_metadata=self.trailers(error))

    async def fail(self, exc: BaseException) -> None:
        self.code = Code.INTERNAL
        logger.error("unhandled error in gRPC %s", self.method, exc_info=exc)
        await self.context.abort(Code.INTERNAL, "internal server error", trailing_metadata=self.trailers())

    def finish(self, metrics: Metrics) -> None:
        duration = time.perf_counter() - self.started
        metrics.observe_grpc(self.method, self.code.name, duration)
        log_access(
            f"gRPC {self.method} {self.code.name} {duration * 1000:.1f} ms",
            {"request_id": self.request_id, "method": "gRPC", "path": self.method, "status": self.code.name,
             "duration_ms": round(duration * 1000, 2), "model": self.model, "batch_size": self.batch_size,
             "first_char_ms": self.first_char_ms},
        )  # fmt: skip


Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, Call], Awaitable[Response]]
StreamHandler = Callable[[Any, AsyncIterator[Request], Call], AsyncIterator[Response]]


@asynccontextmanager
async def answering(call: Call, metrics: Metrics) -> AsyncIterator[None]:
    """Around a handler: its ServiceErrors become status codes, anything else INTERNAL (logged); every call counted."""
    call.context.set_trailing_metadata(call.trailers())
    try:
        yield
    except ServiceError as error:
        await call.refuse(error)  # raises grpc's AbortError
    except grpc.aio.AbortError:
        raise
    except asyncio.CancelledError:  # the client went away or its deadline passed
        call.code = Code.CANCELLED
        raise
    except Exception as exc:
        await call.fail(exc)
    finally:
        call.finish(metrics)


def unary(handler: Handler) -> Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]:
    """A unary method, answered through `answering`."""
    method = handler.__name__

    @functools.wraps(handler)
    async def handle(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Response:
        call = Call(method, context)
        async with answering(call, self.metrics):
            return await handler(self, request, call)
        raise AssertionError("not reached: a failure above ends the call")  # pragma: no cover

    return handle


def streaming(handler: StreamHandler) -> Callable[..., AsyncIterator[Response]]:
    """A bidirectional stream: failures of one request travel in-band (the handler's business); a failure of
    the stream itself (no key) ends it with its status."""
    method = handler.__name__

    @functools.wraps(handler)
    async def handle(self: Any, requests: AsyncIterator[Request], context: grpc.aio.ServicerContext) -> Any:
        call = Call(method, context)
        async with answering(call, self.metrics):
            async for response in handler(self, requests, call):
                yield response

    return handle
