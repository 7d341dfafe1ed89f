"""Requests/s of the API on PostgreSQL at 64 connections, beside a bare aiohttp + asyncpg handler
measured in the same run with the same load generator (Debian's wrk, in its own process):

  * courier report: ``POST /api/v1/packages/{id}/in-transit`` with a fresh ``Idempotency-Key``
    (a custody event, the outbox, the stored answer) — raw: aiohttp + one asyncpg INSERT;
  * case view: ``GET /api/v1/cases/{id}`` — raw: aiohttp + one SELECT by primary key;
  * tracking page: ``GET /t/{token}`` (HTML) — raw: the same one-SELECT handler.

The service runs as ``handoff serve --no-demo --no-workers`` (API and relay, one process, uvloop
where installed) against a scratch database built by the real migrations and filled through the
real services; the raw server runs in its own process with a pool of the same size. Every figure
is the median of ``--runs`` runs, printed beside the raw figure, the ratio and the load average,
and with each server's CPU milliseconds per request (its process's CPU time over the run): on a
machine busy with other work the rates drop, the CPU a request costs much less.

Run:  .venv/bin/python bench/bench_api.py [--packages 400] [--duration 10] [--runs 3] [--only tracking]
      [--profile out.raw]   (py-spy's raw samples of the service during its first run of each figure)
Needs PostgreSQL on 127.0.0.1:5432 and wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import queries
from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.demo import load_demo_world
from handoff.case import MaterialSubmission
from handoff.codes import TrackingTokens, hash_token
from handoff.matter import Delivery, Mode
from handoff.services import Deps, HandOverBatch, RegisterCase, SealOutbound, dispatch

PG = "postgresql://postgres@127.0.0.1:5432"
TRACKING_KEY = b"bench-tracking-key-32-bytes-long"
KEYS = {
    "HANDOFF_SCAN_KEYS": "B1:" + base64.b64encode(b"bench-scan-key-32-bytes-long!!!!").decode(),
    "HANDOFF_TRACKING_KEY": base64.b64encode(TRACKING_KEY).decode(),
    "HANDOFF_ID_KEYS": "B1:" + base64.b64encode(b"bench-id-key-32-bytes-long!!!!!!").decode(),
    "HANDOFF_ID_HASH_KEY": base64.b64encode(b"bench-id-hash-key-32-bytes-long!").decode(),
    "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"bench-checkpoint-key-32-bytes-lg").decode(),
}
CIPHER = IdCipher({"B1": b"bench-id-key-32-bytes-long!!!!!!"}, hash_key=b"bench-id-hash-key-32-bytes-long!")
COURIER_TOKEN, CLERK_TOKEN = "bench-courier-token", "bench-clerk-token"

RAW_SERVER = r"""
import asyncio, sys, json
import asyncpg
from aiohttp import web
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass

async def main(dsn, port, pool_size):
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    async def post(request):
        body = await request.read()
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO raw_bench(k, body) VALUES ($1, $2)", request.headers["Idempotency-Key"], body.decode()
            )
        return web.json_response({"ok": True})
    async def get(request):
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT id, state, version FROM cases WHERE id = $1", request.match_info["id"])
        return web.json_response(dict(row) if row else {})
    app = web.Application()
    app.router.add_post("/raw", post)
    app.router.add_get("/raw/{id}", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""

LUA_POST = r"""
local ids = {%s}
local counter = 0
local thread_id = 0
local n = 0
setup = function(thread) n = n + 1; thread:set("tid", n) end
init = function(args) thread_id = tid end
request = function()
  counter = counter + 1
  local id = ids[math.random(#ids)]
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer %s"
  headers["Idempotency-Key"] = "k-__RUN__-" .. thread_id .. "-" .. counter
  return wrk.format("POST", string.format("%s", id), headers, '{"place":"海丰中转站"}')
end
"""

LUA_GET = r"""
local paths = {%s}
request = function()
  local headers = {}
  headers["Authorization"] = "Bearer %s"
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(dsn: str, packages: int) -> tuple[list[str], list[str]]:
    """Cases collected at the 陆丰 window, sealed and handed to courier-07 through the services."""
    engine = make_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"), pool_size=4)
    await upgrade(engine)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    async with engine.begin() as conn:
        await load_demo_world(conn)
        for user, role, scope, token in [
            ("courier-07", "courier", "region:4415", COURIER_TOKEN),
            ("clerk-lf", "window_clerk", "office:win-441581", CLERK_TOKEN),
        ]:
            await queries.create_user_token(
                conn,
                user_id=user,
                name=user,
                role=role,
                scope=scope,
                phone="",
                token_hash=hash_token(token),
                at=now,
                expires_at=datetime(2100, 1, 1, tzinfo=UTC),
            )
    deps = Deps(clock=Clock(), calendar=LiveCalendar(), tracking=TrackingTokens(TRACKING_KEY))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, CIPHER, write_outbox)

    case_ids, package_ids = [], []
    for _ in range(packages):
        [collected] = await dispatch(
            RegisterCase(
                matter_id="m-jsgc-xk",
                mode=Mode.PROXY_COLLECT,
                delivery=Delivery.PICKUP_AT_WINDOW,
                applicant_name="张小三",
                applicant_phone="13812345678",
                window_office_id="win-441581",
                actor="clerk-lf",
                materials=[
                    MaterialSubmission(n) for n in ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明")
                ],
            ),
            uow(),
            deps,
        )
        assert collected.case_id is not None
        events = await dispatch(SealOutbound(case_id=collected.case_id, actor="clerk-lf"), uow(), deps)
        case_ids.append(collected.case_id)
        package_ids.append(next(e.package_id for e in events if e.type == "package.created"))
    for start in range(0, len(package_ids), 50):
        await dispatch(
            HandOverBatch(
                office_id="win-441581", courier="courier-07", package_ids=package_ids[start : start + 50], actor="c"
            ),
            uow(),
            deps,
        )
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE raw_bench (id bigserial PRIMARY KEY, k text, body text)")
    await engine.dispose()
    return case_ids, package_ids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: str, duration: int, connections: int, pid: int) -> tuple[float, float, int, float]:
    """requests/s, p99 in ms, non-2xx answers, and the server's CPU milliseconds per request (the
    server process ``pid``'s CPU time over the run; it tells the cost of a request apart from what
    else the machine is doing, which the rate alone does not). Each run's idempotency keys are new (``__RUN__``):
    LuaJIT's unseeded ``math.random`` repeats its numbers from one wrk process to the next, so keys
    made with it made the second and third runs replays of the first's answers."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script.replace("__RUN__", uuid.uuid4().hex[:12]))
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", handle.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pid) - cpu_before
    os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    assert done is not None, out
    cpu_ms = 1000 * cpu / max(int(done.group(1)), 1)
    return rate, float(p99_text.group(1)) * scale, int(bad.group(1)) if bad else 0, cpu_ms


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=int, default=400)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load on each server before the runs")
    parser.add_argument("--profile", default="", help="py-spy record the service's first run into this file")
    parser.add_argument("--only", default="", help="run only the figures whose title contains this (e.g. tracking)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    name = f"handoff_bench_api_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(f"{PG}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(f"{PG}/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(create())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dsn = f"{PG}/{name}"
        print(f"preparing {args.packages} cases and packages …", flush=True)
        case_ids, package_ids = asyncio.run(prepare(dsn, args.packages))
        tracking = TrackingTokens(TRACKING_KEY)
        port, raw_port = free_port(), free_port()
        env = {
            **os.environ,
            **KEYS,
            "HANDOFF_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
            "HANDOFF_BROKER_URL": "memory://",
            "HANDOFF_LOG_LEVEL": "WARNING",
            # one load generator is one client address: lift the per-address limits for the run
            "HANDOFF_RATE_API_PER_MINUTE": "100000000",
            "HANDOFF_RATE_API_BURST": "100000000",
            "HANDOFF_RATE_TRACK_PER_MINUTE": "100000000",
            "HANDOFF_RATE_TRACK_BURST": "100000000",
            "HANDOFF_ENV": "development",
            "HANDOFF_DEMO_DATA": "false",
        }
        handoff = str(Path(sys.executable).with_name("handoff"))
        procs.append(
            subprocess.Popen(
                [handoff, "serve", "--no-demo", "--no-workers", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", RAW_SERVER, dsn, str(raw_port), "10"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_ready(f"http://127.0.0.1:{port}/healthz", procs[0])
        wait_ready(f"http://127.0.0.1:{raw_port}/raw/x", procs[1])
        base, raw = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{raw_port}"

        def quoted(paths: list[str]) -> str:
            return ",".join(json.dumps(p) for p in paths)

        report_paths = quoted([f"/api/v1/packages/{p}/in-transit" for p in package_ids])
        scenarios = [
            (
                "courier report (POST in-transit, Idempotency-Key)",
                (base, LUA_POST % (report_paths, COURIER_TOKEN, "%s")),
                (raw, LUA_POST % (quoted(["/raw"]), COURIER_TOKEN, "%s")),
            ),
            (
                "case view (GET /api/v1/cases/{id})",
                (base, LUA_GET % (quoted([f"/api/v1/cases/{c}" for c in case_ids]), CLERK_TOKEN)),
                (raw, LUA_GET % (quoted([f"/raw/{c}" for c in case_ids]), CLERK_TOKEN)),
            ),
            (
                "tracking page (GET /t/{token})",
                (base, LUA_GET % (quoted([f"/t/{tracking.token_for(c)}" for c in case_ids]), "")),
                (raw, LUA_GET % (quoted([f"/raw/{c}" for c in case_ids]), "")),
            ),
        ]
        print(f"wrk -t2 -c{args.connections} -d{args.duration}s, medians of {args.runs}\n")
        print(
            f"{'figure':52} {'ours req/s':>11} {'p99 ms':>8} {'non-2xx':>8} {'raw req/s':>10} {'ratio':>7} {'load':>6}"
            f" {'CPU ms/req':>8} {'raw CPU':>8} {'CPU ratio':>8}"
        )
        for title, (ours_url, ours_script), (raw_url, raw_script) in scenarios:
            if args.only not in title:
                continue
            ours_runs, raw_runs = [], []
            if args.warmup:  # both pools filled, both servers' statements prepared, before measuring
                wrk(ours_url, ours_script, args.warmup, args.connections, procs[0].pid)
                wrk(raw_url, raw_script, args.warmup, args.connections, procs[1].pid)
            for run in range(args.runs):
                spy = None
                if args.profile and run == 0:
                    out = f"{args.profile}.{title.split()[0]}" if not args.only else args.profile
                    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                    record = ["record", "-p", str(procs[0].pid), "-d", str(args.duration), "-f", "raw", "-o", out]
                    spy = subprocess.Popen(
                        [py_spy, *record, "--nonblocking"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                ours_runs.append(wrk(ours_url, ours_script, args.duration, args.connections, procs[0].pid))
                if spy is not None:
                    spy.wait()
                raw_runs.append(wrk(raw_url, raw_script, args.duration, args.connections, procs[1].pid))
            rate = statistics.median(r[0] for r in ours_runs)
            p99 = statistics.median(r[1] for r in ours_runs)
            bad = sum(r[2] for r in ours_runs)
            raw_rate = statistics.median(r[0] for r in raw_runs)
            cpu_ms = statistics.median(r[3] for r in ours_runs)
            raw_cpu_ms = statistics.median(r[3] for r in raw_runs)
            print(
                f"{title:52} {rate:11.0f} {p99:8.1f} {bad:8d} {raw_rate:10.0f} {rate / raw_rate:7.1%} "
                f"{os.getloadavg()[0]:6.2f} {cpu_ms:8.2f} {raw_cpu_ms:8.2f} {raw_cpu_ms / cpu_ms:8.1%}"
            )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(drop())


if __name__ == "__main__":
    main()
