"""`handoff serve` and `handoff worker` run on uvloop (a declared dependency on Linux)."""

from __future__ import annotations

import asyncio

import uvloop

from cli.base import run_service


def test_a_service_runs_on_uvloop() -> None:
    async def which_loop() -> type:
        return type(asyncio.get_running_loop())

    assert issubclass(run_service(which_loop()), uvloop.Loop)
