"""bench/peers.py: reading wrk's report, the binary-safe request scripts, and the target table."""

import subprocess

import pytest

from bench import peers
from bench.peers import Result, check, run_wrk, wrk_script

WRK_REPORT = """Running 10s test @ http://127.0.0.1:8000/predict/digit
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    31.84ms    2.19ms  47.70ms   81.99%
  Latency Distribution
     50%   31.84ms
     75%   33.00ms
     90%   35.00ms
     99%    1.20s
  19941 requests in 10.00s, 6.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   1994.10
Transfer/sec:    626.63KB
"""


def test_run_wrk_reads_rate_percentiles_errors_and_cpu_per_request(monkeypatch, tmp_path):
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=WRK_REPORT, stderr="")
    )
    cpu = iter([10.0, 29.941])
    monkeypatch.setattr(peers, "tree_cpu_seconds", lambda pid: next(cpu))
    numbers = run_wrk(8000, "/predict/digit", tmp_path / "x.lua", 64, 10, pid=1)
    assert numbers == {
        "requests_per_s": 1994.10, "p50_ms": 31.84, "p99_ms": 1200.0, "errors": 9,
        "cpu_ms_per_request": pytest.approx(1.0), "requests": 19941, "timeouts": 3,
    }  # fmt: skip


def test_the_request_script_carries_a_binary_body_byte_for_byte(tmp_path):
    body = bytes(range(256)) * 3 + b'"\\\n'
    script = wrk_script(tmp_path, "binary", body, "application/octet-stream")
    text = script.read_text()
    assert 'wrk.headers["Content-Type"] = "application/octet-stream"' in text
    assert f'io.open("{tmp_path / "binary"}.body", "rb")' in text
    assert (tmp_path / "binary.body").read_bytes() == body
    assert wrk_script(tmp_path, "get", None, "").read_text() == 'wrk.method = "GET"\n'


def result(server: str, request: str, rate: float, p50: float = 10, p99: float = 20, cpu: float = 1.0) -> Result:
    return Result(server, request, 64, rate, p50, p99, 0, cpu)


def test_targets_are_ratios_within_the_run():
    results = [
        result("LitServe", "JSON digit", 1000),
        result("dlserve", "JSON digit", 1700, cpu=0.8),
        result("dlserve", "binary digit", 1800, cpu=0.6),
        result("dlserve", "GET /health/live", 6000),
        result("plain FastAPI (no model)", "GET /health/live", 10000),
        result("dlserve BACKEND=torchscript", "JSON digit", 1400, cpu=1.0),
    ]
    table = "\n".join(check(results, poem_ms=20, model_poem_ms=19, ready_s=4, rss=600))
    assert "| dlserve JSON ÷ LitServe, req/s | 1.70 | ≥ 1.6 | PASS |" in table
    assert "| GET /health/live ÷ plain FastAPI GET | 0.60 | ≥ 0.7 | FAIL |" in table
    assert "| binary ÷ JSON, server CPU per request | 0.75 | ≤ 1.0 | PASS |" in table
    assert "| poem 4×7 over HTTP ÷ model alone, p50 | 1.05 | ≤ 1.15 | PASS |" in table
    assert "| dlserve JSON, BACKEND=auto ÷ torchscript, req/s | 1.21 | ≥ 1.15 | PASS |" in table
    assert "| dlserve JSON, BACKEND=auto ÷ torchscript, server CPU per request | 0.80 | ≤ 1.0 | PASS |" in table


def test_missing_tools_are_named_not_installed(monkeypatch):
    monkeypatch.setattr(peers.shutil, "which", lambda name: None)
    assert peers.missing_tools()[0] == "wrk (Debian: apt-get install wrk)"
