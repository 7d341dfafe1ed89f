"""A thin HTTP helper for the provider adapters: one POST or GET with a timeout, bytes back.

The aiohttp session is injected (opened and closed by whoever owns the application's lifetime),
so no adapter keeps a module-global client. Transport problems become :class:`HttpTransportError`
with a ``kind`` the adapters map to their own error types.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class HttpTransportError(Exception):
    """The request did not get an HTTP answer. ``kind`` is ``timeout`` or ``connection``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float,
) -> HttpResponse:
    """Send ``body`` exactly as given (signatures are computed over these bytes)."""
    try:
        async with session.request(
            method,
            url,
            data=body if body else None,
            headers=dict(headers or {}),
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            payload = await response.read()
            return HttpResponse(response.status, dict(response.headers), payload)
    except TimeoutError as exc:
        raise HttpTransportError("timeout", f"{method} {url} took longer than {timeout}s") from exc
    except asyncio.CancelledError:
        raise
    except aiohttp.ClientError as exc:
        raise HttpTransportError("connection", f"{method} {url}: {exc}") from exc
