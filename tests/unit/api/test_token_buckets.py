"""The token buckets behind the rate limits (api/ratelimit.py), on a clock the test turns."""

from __future__ import annotations

import pytest

from api.ratelimit import RateLimits, TokenBuckets, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    clock = Clock()
    buckets = TokenBuckets(60, 3, clock=clock)  # one a second, three saved up
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 1.0
    assert buckets.take("b") == 0.0  # another address has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.5
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]  # never more than the burst


def test_waiting_does_not_take_a_token():
    clock = Clock()
    buckets = TokenBuckets(10, 1, clock=clock)
    assert buckets.wait("a") == 0.0 and buckets.wait("a") == 0.0
    assert buckets.take("a") == 0.0
    assert buckets.wait("a") == 6.0 and buckets.take("a") == 6.0


def test_memory_stays_bounded_whatever_the_number_of_addresses():
    clock = Clock()
    buckets = TokenBuckets(60, 2, max_keys=100, clock=clock)
    for i in range(10_000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets) == 100
    buckets.take("10.0.39.15")  # among the most recent: kept, and its token gone
    assert buckets.take("10.0.39.15") == 1.0
    assert buckets.take("10.0.0.0") == 0.0  # long forgotten: starts full again


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after(0.01) == "1" and retry_after(6.2) == "7" and retry_after(float("inf")) == "3600"


def test_trusted_proxies_are_checked_when_read():
    assert RateLimits.parse_proxies(" 10.0.0.1, 10.1.0.0/16 ,") == ("10.0.0.1", "10.1.0.0/16")
    with pytest.raises(ValueError):
        RateLimits.parse_proxies("10.0.0.300")
