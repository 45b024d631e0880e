"""Start the real service (`python -m app`) as a process on a free loopback port, for the live tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(
        self, log_path: Path, python_args: tuple[str, ...] = ("-m", "app"), unset: tuple[str, ...] = (), **env: str
    ) -> None:
        """`env` adds settings to the test's defaults; `unset` removes some, so the app's own defaults apply."""
        self.port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.log_path = log_path
        models = os.environ.get("DLSERVE_TEST_MODELS", str(ROOT / "models"))  # a developer's override
        defaults = {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "GRPC_PORT": str(self.grpc_port),
            "MODEL_DIR": models,
            "DEVICE": "cpu",
            "TORCH_THREADS": "1",
        }
        environment = {k: v for k, v in (os.environ | defaults | env).items() if k not in unset}
        self._log = log_path.open("w")
        self.process = subprocess.Popen([sys.executable, *python_args], cwd=ROOT, env=environment,
                                        stdout=self._log, stderr=subprocess.STDOUT)  # fmt: skip

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_entries(self) -> list[dict]:
        """The JSON lines of the log so far."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def wait_for_log_entry(self, wanted: Callable[[dict], bool], timeout: float = 20.0) -> dict:
        """The first JSON log line for which `wanted` is true; lines are written in batches, so wait a little."""
        deadline = time.perf_counter() + timeout
        while True:
            found = [entry for entry in self.log_entries() if wanted(entry)]
            if found:
                return found[0]
            if time.perf_counter() > deadline:
                raise AssertionError(f"no such log line after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def settle(self) -> None:
        """Return once everything the server logged so far is in the log: a marked request's own line is written
        after every earlier one (one writer, in order), so no fixed sleep has to guess how long that takes."""
        marker = f"settle-{time.perf_counter_ns()}"
        httpx.get(f"{self.url}/health/live", headers={"X-Request-ID": marker}, timeout=10)
        self.wait_for_log_entry(lambda entry: entry.get("request_id") == marker)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


def request_being_read(port: int, head: bytes, part_of_body: bytes = b"") -> socket.socket:
    """A connection whose request the server has provably taken and is reading the body of.

    The head is sent with `Expect: 100-continue`: the server's `100 Continue` comes when the app first
    reads the body, so the request is in flight when this returns — no sleep has to guess when that is.
    """
    head, _, start_of_body = head.partition(b"\r\n\r\n")  # a head may come with the first bytes of its body
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = conn.recv(4096)
        assert chunk, f"the server closed the connection before reading the body: {received!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 100 Continue"), received
    conn.sendall(start_of_body + part_of_body)
    return conn


@contextmanager
def serving(log_path: Path, **env: str) -> Iterator[LiveServer]:
    """A ready LiveServer for the length of a `with` block (or a fixture), killed on the way out."""
    live = LiveServer(log_path, **env)
    try:
        live.wait_ready()
        yield live
    finally:
        live.close()
