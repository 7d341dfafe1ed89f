"""Rate limits per client address (issue 13): the applicant's tracking page and its API, the API
in general, and failed uses of a bearer token, each an in-process token bucket per address,
answered 429 problem+json with ``Retry-After``.

In-process on purpose: an API replica protects itself without a shared store; a deployment with
N replicas behind a balancer allows N times the figures, which the settings can divide. Memory is
bounded: each limit keeps the buckets of its ``max_addresses`` most recently seen addresses and
forgets the oldest (a forgotten address starts again with a full bucket, the worst an eviction
can do). The client address is the TCP peer; ``X-Forwarded-For`` is read only when the peer is
one of ``trusted_proxies``, walking from the right past every trusted hop.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from api.problems import Problem, problem_response

TRACKING_PREFIXES = ("/t/", "/api/v1/track/", "/matters", "/api/v1/public/")
"""The public pages and routes (no login): the tracking page and the published catalogue."""
API_PREFIX = "/api/"
TOO_MANY = "请求过于频繁，请稍后再试"
TOO_MANY_FAILURES = "访问令牌验证失败次数过多，请稍后再试"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TokenBuckets:
    """One token bucket per key: ``per_minute`` tokens a minute, at most ``burst`` saved up; a
    request takes one. Keys beyond ``max_keys`` evict the least recently seen."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_keys = max(1, max_keys)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: str) -> float:
        now = self.clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return tokens

    def _wait(self, tokens: float) -> float:
        return math.inf if self.rate <= 0 else (1.0 - tokens) / self.rate

    def take(self, key: str) -> float:
        """Take a token: 0 when there was one, else the seconds until there will be (nothing taken)."""
        tokens = self._level(key)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, self._buckets[key][1])
            return 0.0
        return self._wait(tokens)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token again (0: it has one now); takes nothing."""
        tokens = self._level(key)
        return 0.0 if tokens >= 1.0 else self._wait(tokens)


@dataclass(frozen=True)
class RateLimits:
    """The figures, from settings (``HANDOFF_RATE_*``, ``HANDOFF_TRUSTED_PROXIES``); a
    ``per_minute`` of 0 turns that limit off."""

    api_per_minute: int = 1200
    api_burst: int = 1200
    track_per_minute: int = 60
    track_burst: int = 30
    auth_failures_per_minute: int = 10
    auth_failures_burst: int = 10
    max_addresses: int = 10_000
    trusted_proxies: tuple[str, ...] = ()

    @staticmethod
    def parse_proxies(text: str) -> tuple[str, ...]:
        """``10.0.0.1, 10.1.0.0/16`` → the addresses and networks, checked."""
        proxies = tuple(p.strip() for p in text.split(",") if p.strip())
        for proxy in proxies:
            ipaddress.ip_network(proxy, strict=False)  # ValueError on a typo, at start
        return proxies


class RateLimiter:
    """The running state of the limits of one application."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.proxies: list[Network] = [ipaddress.ip_network(p, strict=False) for p in limits.trusted_proxies]

        def buckets(per_minute: int, burst: int) -> TokenBuckets | None:
            if per_minute <= 0:
                return None
            return TokenBuckets(per_minute, burst, max_keys=limits.max_addresses, clock=clock)

        self.api = buckets(limits.api_per_minute, limits.api_burst)
        self.track = buckets(limits.track_per_minute, limits.track_burst)
        self.failures = buckets(limits.auth_failures_per_minute, limits.auth_failures_burst)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)

    def client_address(self, request: web.Request) -> str:
        peer = request.remote or "unknown"
        if not self.proxies or not self._trusted(peer):
            return peer
        hops = [h.strip() for value in request.headers.getall("X-Forwarded-For", []) for h in value.split(",")]
        client = peer
        for hop in reversed([h for h in hops if h]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage left of our proxies: the last trusted hop is all we know
            client = hop
            if not self._trusted(hop):
                break
        return client

    def before(self, request: web.Request, address: str) -> web.Response | None:
        """A 429 when this request is over a limit, else None (and a token taken)."""
        path = request.path
        if self.track is not None and path.startswith(TRACKING_PREFIXES):
            wait = self.track.take(address)
            if wait:
                return too_many(TOO_MANY, wait)
        if self.api is not None and path.startswith(API_PREFIX):
            wait = self.api.take(address)
            if wait:
                return too_many(TOO_MANY, wait)
        if self.failures is not None and "Authorization" in request.headers:
            wait = self.failures.wait(address)
            if wait:
                return too_many(TOO_MANY_FAILURES, wait)
        return None

    def after(self, request: web.Request, address: str, status: int) -> None:
        """A presented token refused (401) costs its address one of its allowed failures."""
        if status == 401 and self.failures is not None and "Authorization" in request.headers:
            self.failures.take(address)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(min(seconds, 3600.0))))


def too_many(title: str, wait: float) -> web.Response:
    response = problem_response(429, title, type="rate_limited")
    response.headers["Retry-After"] = retry_after(wait)
    return response


def busy(title: str, seconds: float) -> Problem:
    """A 429 Problem to raise from a handler, with its ``Retry-After``."""
    problem = Problem(429, title, kind="busy")
    problem.headers["Retry-After"] = retry_after(seconds)
    return problem


LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter", RateLimiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    limiter = request.app[LIMITER]
    address = limiter.client_address(request)
    refused = limiter.before(request, address)
    if refused is not None:
        return refused
    response = await handler(request)
    limiter.after(request, address, response.status)
    return response
