"""The pure parts of bench/serve.py: percentiles, the result rows, the tables and the target checks (no server)."""

import math
import os
from collections import Counter

from pytest import approx

from bench.serve import Row, check_targets, format_checks, format_table, percentile, rss_mb, summarize


def test_percentile_interpolates_between_ranks_like_numpy():
    samples = [4.0, 1.0, 3.0, 2.0, 5.0]  # unsorted on purpose
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 50) == 3.0
    assert percentile(samples, 100) == 5.0
    assert percentile(samples, 99) == approx(4.96)  # rank 3.96: 4 + 0.96 × (5 − 4)
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_summarize_counts_only_successes_and_keeps_errors_sorted():
    row = summarize("digit, batching on", 16, 2.0, [1.0, 2.0, 3.0, 4.0], Counter({"503": 2, "ConnectionResetError": 1}))
    assert row == Row("digit, batching on", 16, 2.0, 2.5, approx(3.97), {"503": 2, "ConnectionResetError": 1})
    assert summarize("x", 1, 0.0, [], Counter()).requests_per_s == 0.0


def test_format_table_has_one_line_per_row_with_errors_spelled_out():
    rows = [
        Row("digit, batching on", 64, 1234.56, 40.04, 95.0),
        Row("digit, batching off", 64, 300.0, 200.0, 410.5, {"503": 3}),
    ]
    assert format_table(rows).splitlines() == [
        "| run | clients | requests/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---|",
        "| digit, batching on | 64 | 1234.6 | 40.0 | 95.0 | 0 |",
        "| digit, batching off | 64 | 300.0 | 200.0 | 410.5 | 503×3 |",
    ]


def test_check_targets_passes_at_the_limits_and_fails_beyond_them():
    at_limits = check_targets(gain=2.0, clients=64, poem_p50_ms=50.0, ready_s=10.0, rss_mb=700.0, rhyme_cost=1.3)
    assert [c.passed for c in at_limits] == [True, True, True, True, True]
    assert at_limits[0].target == "batching on ÷ off, requests/s at 64 clients ≥ 2×"
    assert [c.measured for c in at_limits] == ["2.00×", "50.0 ms", "10.00 s", "700 MB", "1.30×"]
    beyond = check_targets(gain=1.99, clients=64, poem_p50_ms=50.1, ready_s=10.01, rss_mb=700.5, rhyme_cost=1.31)
    assert [c.passed for c in beyond] == [False, False, False, False, False]


def test_a_missing_measurement_fails_its_target():
    checks = check_targets(gain=math.nan, clients=64, poem_p50_ms=math.nan, ready_s=1.0, rss_mb=100.0,
                           rhyme_cost=math.nan)  # fmt: skip
    assert [c.passed for c in checks] == [False, False, True, True, False]
    assert format_checks(checks).splitlines()[2:4] == [
        "| batching on ÷ off, requests/s at 64 clients ≥ 2× | nan× | FAIL |",
        "| poem 4×7 p50 ≤ 50 ms | nan ms | FAIL |",
    ]


def test_rss_mb_reads_this_process():
    assert 1 < rss_mb(os.getpid()) < 100_000
