"""The gRPC server of the Open Inference Protocol: started in the app's lifespan, beside HTTP, in the one process.

On GRPC_PORT (8001 by default, as Triton's; 0: none) at the same HOST as HTTP, so `make serve` is
reachable from this machine only and the containers open both ports. Its messages may be as large as
an HTTP body (MAX_BODY_BYTES). On shutdown it stops taking calls and lets those in flight finish for
up to GRACEFUL_TIMEOUT_S, before the models' batchers drain (app/main.py).
"""

from __future__ import annotations

import logging

import grpc

from app.api.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from app.api.grpc_v2.servicer import InferenceServicer

logger = logging.getLogger("dlserve")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_grpc(servicer: InferenceServicer) -> grpc.aio.Server | None:
    """The server, listening and serving; None when GRPC_PORT is 0. A port it cannot take stops the start."""
    settings = servicer.settings
    if settings.grpc_port == 0:
        return None
    options = [
        ("grpc.max_receive_message_length", settings.max_body_bytes),
        # Several workers share the port (the kernel spreads the connections); one alone must own it, so that
        # a second server started on the same port fails instead of silently taking half the calls.
        ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
    ]
    server = grpc.aio.server(options=options)
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    address = bind_address(settings.host, settings.grpc_port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        bound, cause = 0, exc
    else:
        cause = None
    if not bound:
        raise RuntimeError(f"cannot listen for gRPC on {address} (GRPC_PORT; is the port taken?)") from cause
    await server.start()
    logger.info("gRPC (Open Inference Protocol) listening on %s", address)
    return server


async def stop_grpc(server: grpc.aio.Server | None, grace_s: float) -> None:
    if server is not None:
        await server.stop(grace_s)
