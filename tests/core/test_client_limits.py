"""Per-client in-flight limits (app/core/client_limits.py), on their own: counts, refusals, release."""

import asyncio
import time

import pytest

from app.core.client_limits import ClientLimits
from app.core.errors import TooManyRequests


def test_client_limits_count_per_client_and_kind():
    async def scenario() -> None:
        limits = ClientLimits({"explain": 2, "csv": 1, "poem": 1, "reload": 1}, retry_after_s=3, refusal_delay_s=0.05)
        async with limits.hold("explain", "a"), limits.hold("explain", "a"):
            started = time.perf_counter()
            with pytest.raises(TooManyRequests) as refused:
                async with limits.hold("explain", "a"):
                    pass
            assert time.perf_counter() - started >= 0.05  # a refusal waits before it is sent
            assert refused.value.retry_after_s == 3
            assert "already has 2 explain=true requests in progress (PER_CLIENT_EXPLAIN)" in refused.value.detail
            async with limits.hold("explain", "b"), limits.hold("csv", "a"):  # another client; another kind
                assert limits.in_flight("explain", "b") == 1
        assert limits.in_flight("explain", "a") == 0 and not limits._in_flight  # released, and forgotten

    asyncio.run(scenario())
