"""`python -m tools.generate_grpc` (make grpc-stubs): the Python modules of the gRPC protocol, from its .proto.

The generated modules are committed beside app/api/grpc_v2/grpc_predict_v2.proto, so serving needs only
grpcio and protobuf, not the compiler; a test regenerates them and fails if the committed ones differ.
Paths are relative to the repository root, so the generated imports read `from app.api.grpc_v2 import ...`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO = Path("app/api/grpc_v2/grpc_predict_v2.proto")
GENERATED = ("grpc_predict_v2_pb2.py", "grpc_predict_v2_pb2.pyi", "grpc_predict_v2_pb2_grpc.py")
# The protocol's messages are named `inference.*` by every implementation of it, and protobuf's default pool
# refuses a second file defining the same names: Triton's client in the same process (as in our tests, or a
# user's tool) would fail to import. Our messages go into a pool of their own; the bytes on the wire are the same.
DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
OWN_POOL = (
    "_POOL = _descriptor_pool.DescriptorPool()  # dlserve: a pool of its own (tools/generate_grpc.py says why)\n"
    "DESCRIPTOR = _POOL.AddSerializedFile("
)


def generate(out: Path) -> list[Path]:
    """Writes the modules under `out` (at the proto's own path below it); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    args = ["protoc", f"-I{ROOT}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}",
            str(ROOT / PROTO)]  # fmt: skip
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")
    messages = out / PROTO.parent / GENERATED[0]
    source = messages.read_text(encoding="utf-8")
    if DEFAULT_POOL not in source:
        raise RuntimeError(f"{messages} does not register its file the way this tool expects; update OWN_POOL")
    messages.write_text(source.replace(DEFAULT_POOL, OWN_POOL), encoding="utf-8")
    return [out / PROTO.parent / name for name in GENERATED]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="root to write under (default: the repository)")
    for path in generate(parser.parse_args(argv).out):
        print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
