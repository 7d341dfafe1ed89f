"""The fault pass (issue 15): the whole stack as real processes on a private PostgreSQL cluster and
a private RabbitMQ node — ``handoff migrate``, the API (``handoff serve --no-demo --no-workers``,
keys of its own) and two ``handoff worker`` processes (all groups) — and N cases driven through
the whole flow over HTTP with the roles' tokens, while the broker is restarted, a worker is
SIGKILLed and started again and PostgreSQL is restarted. Then, once everything is quiet, the
figures: every response status, cases not finished, SMS lost / duplicated / out of order per
applicant, rows stuck, parked messages, custody chains that do not verify.

Used by tests/faults/test_fault_pass.py (20 cases) and bench/fault_pass.py (``--cases 200``).

The clients behave as real ones: a 503 (or a refused connection) is retried after a short wait —
with the same Idempotency-Key where the route takes one; a route without one is retried only
after reading the case and finding the step not done.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.private_pg import PrivatePostgres, free_port
from tests.support.private_rabbit import PrivateRabbit

ROOT = Path(__file__).resolve().parents[2]

OWN_KEYS = {
    "HANDOFF_SCAN_KEYS": "F1:" + base64.b64encode(b"scan-key-of-the-fault-pass-32b!!").decode(),
    "HANDOFF_TRACKING_KEY": base64.b64encode(b"tracking-key-of-the-fault-pass!!").decode(),
    "HANDOFF_ID_KEYS": "F1:" + base64.b64encode(b"id-key-of-the-fault-pass-32byte!").decode(),
    "HANDOFF_ID_HASH_KEY": base64.b64encode(b"id-hash-key-of-the-fault-pass!!!").decode(),
    "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"checkpoint-key-of-the-fault-pass").decode(),
}

# The applicant's SMS of the flow driven here (proxy collection, result picked up at the window),
# in order — worker/notifications.py PLANS: case.collected, package.picked_up (outbound),
# case.received, case.accepted, case.decided, case.ready_for_pickup, case.pickup_registered.
APPLICANT_SMS = [
    "receipt",
    "forwarded",
    "signed",
    "accepted",
    "decided",
    "ready_for_pickup",
    "delivered",
    "rating_request",
]
# The staff's SMS per case: the department's clerks are told of the package handed over to them,
# the window's clerks of the result (one manifest per package, so one SMS per case each).
STAFF_SMS_PER_CASE = {"dept-zj": ["incoming_package"], "clerk-lf": ["incoming_package"]}

USERS = [  # the roles the pass acts as (demo ids; their phones are the demo ones)
    "clerk-lf",
    "dept-zj",
    "courier-07",
    "supervisor",
    "admin",
]
MATERIALS = [{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}]
STEPS_PER_CASE = 14
GROUP_NAMES = ("notifications", "logistics", "deadlines", "projections")
PASS_CONNECTIONS = 100
"""The private PostgreSQL's max_connections: the API and two workers hold up to 20 each (pool 10
+ overflow 10), a restarted worker's old connections linger a moment, and the checks connect too.
With 40 the workers met "too many clients" under load and retried their messages for minutes."""


class CaseFailed(Exception):
    """A request answered something a client cannot retry (4xx other than expected, or a 500)."""


@dataclass
class Figures:
    cases: int
    finished: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    technical_failure: list[str] = field(default_factory=list)
    """SMS whose provider could not say what became of them (DESIGN: never sent twice by the
    system), each shown on its case and in the staff's queue of failed SMS with its resend action:
    a person decides. Not lost and not a fault of the pass; counted apart. One that does not show
    there is counted stuck."""
    faults: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    driven: float = 0.0
    """Seconds until the last case was driven through (the rest of ``elapsed`` is the wait for the
    workers to finish: SMS, projections)."""

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def status_500(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)

    def report(self) -> str:
        statuses = ", ".join(f"{s}×{n}" for s, n in sorted(self.statuses.items()))
        lines = [
            f"fault pass: {self.cases} cases, {self.finished} finished, {self.elapsed:.1f} s"
            f" (driven in {self.driven:.1f} s)",
            f"  faults: {'; '.join(self.faults) or 'none'}",
            f"  responses: {statuses}",
            f"  5xx: {self.five_xx} (503: {self.statuses.get(503, 0)}, other 5xx: {self.status_500})",
            f"  SMS out of order: {len(self.out_of_order)}, lost: {len(self.lost)}, duplicated: {len(self.duplicated)}",
            f"  stuck: {len(self.stuck)}, parked: {len(self.parked)}, chains not verified: {len(self.unverified)}",
            f"  technical_failure (shown on the case and in the staff's resend queue): {len(self.technical_failure)}",
        ]
        for name in (
            "failures",
            "out_of_order",
            "lost",
            "duplicated",
            "stuck",
            "parked",
            "unverified",
            "technical_failure",
            "diagnosis",
        ):
            for item in getattr(self, name)[:10]:
                lines.append(f"  {name}: {item}")
        return "\n".join(lines)


# =========================================================================== the processes


class Stack:
    """The API and two workers as processes on the private services, each with its own log; the
    console SMS provider of each appends one JSON line per SMS to the one shared file."""

    def __init__(self, root: Path, pg: PrivatePostgres, rabbit: PrivateRabbit) -> None:
        self.root = root
        self.pg = pg
        self.rabbit = rabbit
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api: subprocess.Popen[str] | None = None
        self.workers: dict[int, subprocess.Popen[str]] = {}

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
        env.update(
            PYTHONPATH=str(ROOT),
            HANDOFF_DATABASE_URL=self.pg.url(),
            HANDOFF_BROKER_URL=self.rabbit.url(),
            HANDOFF_BROKER_PREFIX="hf",
            HANDOFF_SMS_PROVIDERS="console",
            HANDOFF_SMS_CONSOLE_FILE=str(self.sms_file),
            HANDOFF_DEMO_DATA="false",
            HANDOFF_BLOB_DIR=str(self.root / "blobs"),
            # SMS left in limbo by the SIGKILL are settled within the pass, not 10 minutes later
            HANDOFF_SMS_SWEEP_SECONDS="2",
            HANDOFF_SMS_CREATED_GRACE_SECONDS="5",
            HANDOFF_SMS_SENDING_GRACE_SECONDS="5",
            **OWN_KEYS,
        )
        return env

    @property
    def sms_file(self) -> Path:
        """One file for every process, so that the sweeper of one worker can read back what another
        sent before it was killed; the console appends each line with one write (O_APPEND)."""
        return self.root / "sms.jsonl"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def handoff(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=self.root,
            env=self.env("cli"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _spawn(self, name: str, ready: str, *args: str) -> tuple[subprocess.Popen[str], int]:
        log = self.log(name)
        before = log.read_text(encoding="utf-8").count(ready) if log.exists() else 0
        with open(log, "a", encoding="utf-8") as out:  # a pipe nobody reads would fill up and stop it
            process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *args],
                cwd=self.root,
                env=self.env(name),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return process, before

    def _ready(self, name: str, ready: str, process: subprocess.Popen[str], before: int) -> subprocess.Popen[str]:
        log = self.log(name)
        deadline = time.monotonic() + 90
        while log.read_text(encoding="utf-8").count(ready) <= before:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{name} did not start:\n{log.read_text(encoding='utf-8')[-3000:]}")
            time.sleep(0.05)
        return process

    def start_api(self) -> None:
        args = ("serve", "--no-demo", "--no-workers", "--port", str(self.port))
        self.api = self._ready("api", "按 Ctrl+C 停止", *self._spawn("api", "按 Ctrl+C 停止", *args))

    def start_workers(self, *numbers: int) -> None:
        """Started together (each takes seconds to import and connect), ready when all say so."""
        ready = "消费组已启动"
        spawned = {n: self._spawn(f"worker{n}", ready, "worker", "--metrics-port", "0") for n in numbers}
        for n, (process, before) in spawned.items():
            self.workers[n] = self._ready(f"worker{n}", ready, process, before)

    def kill_worker(self, n: int) -> None:
        process = self.workers[n]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def sms_lines(self) -> list[dict[str, Any]]:
        """Every SMS sent, in the order it was written."""
        if not self.sms_file.exists():
            return []
        text = self.sms_file.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def crashed(self) -> list[str]:
        """Processes that exited by themselves (not the ones the pass killed)."""
        named = {"api": self.api, **{f"worker{n}": p for n, p in self.workers.items()}}
        return [f"{name} exited {p.returncode}" for name, p in named.items() if p is not None and p.poll() is not None]

    def stop(self) -> None:
        for process in [*self.workers.values(), self.api]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers.values(), self.api]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def seed(pg: PrivatePostgres) -> dict[str, str]:
    """Regions, offices, matters and the staff (as an installation loads its own), and a token
    for each role the pass acts as."""
    from adapters.db import queries
    from adapters.db.engine import make_engine
    from adapters.demo import DEMO_USERS, load_demo_world
    from handoff.codes import hash_token, new_api_token

    engine = make_engine(pg.url())
    tokens: dict[str, str] = {}
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await load_demo_world(conn, now)
            for user_id, name, role, scope in DEMO_USERS:
                if user_id not in USERS:
                    continue
                token = new_api_token()
                await queries.create_user_token(
                    conn,
                    user_id=user_id,
                    name=name,
                    role=role,
                    scope=scope,
                    phone="",
                    token_hash=hash_token(token),
                    at=now,
                    expires_at=now + timedelta(days=1),
                )
                tokens[user_id] = token
    finally:
        await engine.dispose()
    return tokens


async def staff_phones(pg: PrivatePostgres) -> dict[str, str]:
    from sqlalchemy import select

    from adapters.db import domain_tables as t
    from adapters.db.engine import make_engine

    engine = make_engine(pg.url())
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(t.users.c.id, t.users.c.phone))
            return {phone: user_id for user_id, phone in rows if phone}
    finally:
        await engine.dispose()


# =========================================================================== the clients


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, tokens: dict[str, str], figures: Figures) -> None:
        self.session = session
        self.base = base
        self.tokens = tokens
        self.figures = figures
        self.steps = 0

    async def call(
        self,
        method: str,
        path: str,
        user: str,
        body: Any = None,
        *,
        expect: int = 200,
        key: str | None = None,
        done: Callable[[], Awaitable[dict[str, Any] | None]] | None = None,
        patience: float = 180.0,
    ) -> dict[str, Any]:
        """The answer of a request, retried over outages; ``done`` (for a route without an
        Idempotency-Key) reads whether an earlier attempt took effect before trying again."""
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        if key:
            headers["Idempotency-Key"] = key
        deadline = time.monotonic() + patience
        attempt = 0
        while True:
            if attempt and done is not None:
                earlier = await done()
                if earlier is not None:
                    return earlier
            attempt += 1
            wait = 0.5
            try:
                async with self.session.request(
                    method, self.base + path, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
                ) as response:
                    status = response.status
                    text = await response.text()
                    self.figures.statuses[status] += 1
                    if status == expect:
                        self.steps += 1
                        return dict(json.loads(text)) if text else {}
                    # 503: an outage; 429: one clerk driving hundreds of cases at once trips the
                    # per-user limit. Both are refused before anything is done, and say when to
                    # come back; a client waits and sends the same request again.
                    if status not in (429, 503):
                        raise CaseFailed(f"{method} {path} as {user}: {status} {text[:500]}")
                    wait = min(float(response.headers.get("Retry-After", "1")), 1.0 if status == 503 else 5.0)
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                self.figures.statuses[0] += 1  # no answer at all
                if time.monotonic() > deadline:
                    raise CaseFailed(f"{method} {path} as {user}: no answer ({exc!r})") from exc
            if time.monotonic() > deadline:
                raise CaseFailed(f"{method} {path} as {user}: still 503 after {patience:.0f} s")
            await asyncio.sleep(wait)

    async def get(self, path: str, user: str) -> dict[str, Any]:
        return await self.call("GET", path, user)


async def drive_case(client: Client, n: int) -> str:
    """One case from the window to the applicant's pickup; its id."""
    phone = f"139{n:08d}"
    name = "张小三"
    c = client

    def key(step: str) -> str:
        return f"fp-{n}-{step}-{uuid.uuid4().hex[:6]}"

    register = {
        "matter_id": "m-jsgc-xk",
        "mode": "proxy_collect",
        "delivery": "pickup_at_window",
        "window_office_id": "win-441581",
        "applicant": {"name": name, "phone": phone},
        "materials": MATERIALS,
        "tolerated": [],
    }
    # Registration takes no Idempotency-Key: a 503 means nothing was committed (DESIGN §10); a
    # second case for one phone would show as a duplicated receipt SMS.
    case = await c.call("POST", "/api/v1/cases", "clerk-lf", register, expect=201)
    cid = case["id"]

    async def state_past(*states: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def check() -> dict[str, Any] | None:
            now = await c.get(f"/api/v1/cases/{cid}", "clerk-lf")
            return now if now["state"] in states else None

        return check

    package = await c.call("POST", f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, expect=201, key=key("seal"))
    pid = package["id"]
    hand_over = {"office_id": "win-441581", "courier": "courier-07", "package_ids": [pid]}
    await c.call("POST", "/api/v1/manifests", "clerk-lf", hand_over, expect=201, key=key("manifest"))
    await c.call(
        "POST", f"/api/v1/packages/{pid}/in-transit", "courier-07", {"place": "海丰中转站"}, key=key("transit")
    )
    await c.call("POST", f"/api/v1/packages/{pid}/delivered", "courier-07", {}, key=key("delivered"))
    await c.call("POST", f"/api/v1/packages/{pid}/sign", "dept-zj", {"office_id": "dept-441500-zj"}, key=key("sign"))
    later = ("accepted", "in_review", "decided", "result_shipped", "ready_for_pickup", "delivered")
    await c.call("POST", f"/api/v1/cases/{cid}/accept", "dept-zj", {}, done=await state_past(*later))
    decision = {"outcome": "approved", "opinion": "同意"}
    await c.call("POST", f"/api/v1/cases/{cid}/decision", "dept-zj", decision, done=await state_past(*later[2:]))
    await c.call("POST", f"/api/v1/cases/{cid}/result", "dept-zj", {}, key=key("result"))
    full = await c.get(f"/api/v1/cases/{cid}", "clerk-lf")
    rid = next(p["id"] for p in full["packages"] if p["direction"] == "result")
    back = {"office_id": "dept-441500-zj", "courier": "courier-07", "package_ids": [rid]}
    await c.call("POST", "/api/v1/manifests", "dept-zj", back, expect=201, key=key("manifest-back"))
    await c.call("POST", f"/api/v1/packages/{rid}/delivered", "courier-07", {}, key=key("delivered-back"))
    await c.call("POST", f"/api/v1/packages/{rid}/sign", "clerk-lf", {"office_id": "win-441581"}, key=key("sign-back"))
    pickup = {"office_id": "win-441581", "receiver_name": name, "by_proxy": False}
    picked = await c.call("POST", f"/api/v1/cases/{cid}/pickup", "clerk-lf", pickup, done=await state_past("delivered"))
    if picked["state"] != "delivered":
        raise CaseFailed(f"case {cid}: {picked['state']} after pickup")
    return str(cid)


# =========================================================================== the pass


async def run_pass(
    root: Path,
    pg: PrivatePostgres,
    rabbit: PrivateRabbit,
    cases: int,
    concurrency: int = 4,
    report: Callable[[str], None] | None = None,
) -> Figures:
    """The pass; ``report`` is given a line on the progress now and then (the bench prints them)."""
    figures = Figures(cases=cases)
    stack = Stack(root, pg, rabbit)
    migrated = stack.handoff("migrate")
    if migrated.returncode != 0:
        raise RuntimeError(f"handoff migrate: {migrated.stdout}{migrated.stderr}")
    tokens = await seed(pg)
    phones = await staff_phones(pg)
    stack.start_api()
    try:
        stack.start_workers(1, 2)
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            client = Client(session, stack.base, tokens, figures)

            def kill_and_restart_worker() -> None:
                stack.kill_worker(1)
                stack.start_workers(1)

            def restart_postgres() -> None:
                pg.stop("fast")  # open sessions are terminated, new ones refused
                time.sleep(1.0)
                pg.start()

            faults: list[tuple[str, Callable[[], None]]] = [
                ("RabbitMQ restarted", rabbit.restart),
                ("worker 1 SIGKILLed and started again", kill_and_restart_worker),
                ("PostgreSQL restarted", restart_postgres),
            ]
            gate = asyncio.Semaphore(concurrency)
            ids: dict[int, str] = {}

            async def one(n: int) -> None:
                async with gate:
                    try:
                        ids[n] = await drive_case(client, n)
                    except CaseFailed as exc:
                        figures.failures.append(f"case {n}: {exc}")

            async def inject(name: str, fault: Callable[[], None], wave_steps: int, ended: asyncio.Event) -> None:
                """The fault, once the wave is under way (a fifth of its steps done); a wave whose
                cases all ended (failed) before that is a failure of the pass, not a wait forever."""
                start = client.steps
                while client.steps < start + wave_steps // 5:
                    if ended.is_set():
                        done = client.steps - start
                        figures.failures.append(f"{name}: not done, the wave ended after {done} of {wave_steps} steps")
                        return
                    await asyncio.sleep(0.02)
                at, step = time.monotonic(), client.steps
                await asyncio.to_thread(fault)
                figures.faults.append(
                    f"{name} at step {step} ({time.monotonic() - at:.1f} s, until step {client.steps})"
                )

            # Four waves of cases; each fault strikes while the wave after it is in flight.
            waves = [[n for n in range(cases) if n * 4 // cases == w] for w in range(4)]
            for w, wave in enumerate(waves):
                ended = asyncio.Event()

                async def cases_of(wave: list[int], ended: asyncio.Event) -> None:
                    await asyncio.gather(*(one(n) for n in wave))
                    ended.set()

                work = [cases_of(wave, ended)]
                if w:
                    name, fault = faults[w - 1]
                    work.append(inject(name, fault, len(wave) * STEPS_PER_CASE, ended))
                await asyncio.gather(*work)
                if report is not None:
                    report(
                        f"  wave {w + 1} of {len(waves)}: {len(ids)} cases driven,"
                        f" {len(stack.sms_lines())} SMS sent, {time.monotonic() - started:.0f} s"
                    )
            figures.driven = time.monotonic() - started
            if report is not None:
                report(f"  {cases} cases driven in {figures.driven:.0f} s; waiting for the rest of the work")
            await quiescence(stack, pg, report=report)
            figures.elapsed = time.monotonic() - started
            await check(client, stack, figures, ids, phones)
    finally:
        crashed = stack.crashed()
        stack.stop()
    if crashed:
        figures.failures += crashed
    return figures


async def pending(pg: PrivatePostgres) -> dict[str, int]:
    """What is still on its way: outbox rows not published, SMS rows not settled."""
    import asyncpg

    conn = await asyncpg.connect(pg.url(driver="postgresql"))
    try:
        outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        sms = await conn.fetchval("SELECT count(*) FROM notifications WHERE status IN ('created', 'sending')")
        return {"outbox": int(outbox), "sms": int(sms)}
    finally:
        await conn.close()


async def queue_depth(rabbit: PrivateRabbit) -> int:
    return sum((await queue_depths(rabbit)).values())


async def queue_depths(rabbit: PrivateRabbit) -> dict[str, int]:
    """Messages waiting in each queue of the groups (parked ones apart), the empty ones left out."""
    import aio_pika

    from adapters.broker.topology import groups

    connection = await aio_pika.connect(rabbit.url(), timeout=10)
    try:
        channel = await connection.channel()
        depths: dict[str, int] = {}
        for group in groups("hf").values():
            for name in [q for q in group.queues if not q.endswith(".parked")]:
                queue = await channel.declare_queue(name, passive=True)
                if queue.declaration_result.message_count:
                    depths[name] = int(queue.declaration_result.message_count)
        return depths
    finally:
        await connection.close()


QUIET_SECONDS = 3.0
"""Nothing on its way and no new SMS for this long: the pass is over."""
STALL_SECONDS = 90.0
"""No progress at all (nothing published, sent, settled or consumed) for this long: what is left is
stuck, which the checks report. Longer than the early retry delays (1 s, 5 s, 30 s) and the
sweeper's graces, so that a message in its third retry is not taken for stuck."""
CAP_SECONDS = 1800.0
"""The wait never lasts longer than this, whatever progress is made."""


@dataclass(frozen=True)
class Progress:
    """What is still on its way, and what has arrived: any change is progress."""

    outbox: int
    sms_pending: int
    queued: int
    sent: int
    by_queue: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    """Per queue (shown, not compared: a message going round the hold queues is no progress)."""

    @property
    def done(self) -> bool:
        return not (self.outbox or self.sms_pending or self.queued)

    def line(self, elapsed: float) -> str:
        return (
            f"  waiting {elapsed:5.0f} s: {self.sent} SMS sent, {self.sms_pending} to send,"
            f" {self.outbox} events to publish, {self.queued} messages queued"
            + (f" ({', '.join(f'{q} {n}' for q, n in self.by_queue)})" if self.by_queue else "")
        )


async def quiescence(
    stack: Stack,
    pg: PrivatePostgres,
    *,
    stall: float = STALL_SECONDS,
    cap: float = CAP_SECONDS,
    report: Callable[[str], None] | None = None,
    every: float = 10.0,
) -> None:
    """Until nothing is on its way and no SMS has come for :data:`QUIET_SECONDS`; or until nothing
    has moved for ``stall`` seconds (what is left then is stuck, which the checks report); at most
    ``cap`` seconds. ``report`` is given a line on the progress every ``every`` seconds."""
    started = time.monotonic()
    moved = sent_at = reported = started
    last: Progress | None = None
    while time.monotonic() - started < cap:
        try:
            left = await pending(pg)
            depths = await queue_depths(stack.rabbit)
        except Exception:  # a service still coming back
            await asyncio.sleep(0.5)
            continue
        now = time.monotonic()
        by_queue = tuple(sorted((q.split(".", 1)[-1], n) for q, n in depths.items()))
        progress = Progress(left["outbox"], left["sms"], sum(depths.values()), len(stack.sms_lines()), by_queue)
        if last is None or progress != last:
            moved = now
            if last is None or progress.sent != last.sent:
                sent_at = now
        last = progress
        if report is not None and now - reported >= every:
            report(progress.line(now - started))
            reported = now
        if progress.done and now - sent_at > QUIET_SECONDS:
            return
        if now - moved > stall:
            if report is not None:
                report(f"  nothing moved for {stall:.0f} s: what is left is stuck")
            return
        await asyncio.sleep(0.25)
    if report is not None:
        report(f"  still busy after {cap:.0f} s: stopped waiting")


async def check(client: Client, stack: Stack, figures: Figures, ids: dict[int, str], phones: dict[str, str]) -> None:
    import asyncpg

    # the cases, and their packages' custody chains
    for n, cid in sorted(ids.items()):
        case = await client.get(f"/api/v1/cases/{cid}", "supervisor")
        if case["state"] != "delivered":
            figures.stuck.append(f"case {n} ({cid}) is {case['state']}")
            continue
        figures.finished += 1
        for package in case["packages"]:
            custody = await client.get(f"/api/v1/packages/{package['id']}/custody", "supervisor")
            if custody.get("verified") is not True:
                figures.unverified.append(f"case {n} package {package['id']}: {json.dumps(custody)[:300]}")

    # the SMS: per applicant exactly the plan, in order; per staff member exactly one per case —
    # less those whose outcome the provider could not tell and that did not arrive, provided a
    # person is shown them (technical_failure)
    lines = stack.sms_lines()
    by_phone: dict[str, list[str]] = {}
    for line in lines:
        by_phone.setdefault(line["phone"], []).append(line["template"])
    unknown = await shown_technical_failures(client, stack, figures)
    for n in ids:
        phone = f"139{n:08d}"
        got = by_phone.get(phone, [])
        compare(figures, f"case {n} ({phone})", without(APPLICANT_SMS, unknown.get(phone), got), got, ordered=True)
    for user_id, templates in STAFF_SMS_PER_CASE.items():
        phone = next((p for p, u in phones.items() if u == user_id), "")
        got = by_phone.get(phone, [])
        compare(figures, f"staff {user_id}", without(templates * len(ids), unknown.get(phone), got), got, ordered=False)
    known = {f"139{n:08d}" for n in ids} | {p for p, u in phones.items() if u in STAFF_SMS_PER_CASE}
    for phone, templates in by_phone.items():
        if phone not in known:
            figures.duplicated.append(f"unexpected SMS to {phone}: {templates}")

    # rows that never settled
    conn = await asyncpg.connect(stack.pg.url(driver="postgresql"))
    try:
        for status, n in await conn.fetch(
            "SELECT status, count(*) FROM notifications WHERE status NOT IN ('delivered', 'technical_failure')"
            " GROUP BY status"
        ):
            figures.stuck.append(f"{n} notification rows {status}")
        unpublished = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if unpublished:
            figures.stuck.append(f"{unpublished} outbox rows not published")
    finally:
        await conn.close()
    depths = await queue_depths(stack.rabbit)
    if depths:
        figures.stuck.append(f"{sum(depths.values())} messages still queued: {depths}")
    short = {f"139{n:08d}" for n in ids if len(by_phone.get(f"139{n:08d}", [])) < len(APPLICANT_SMS)}
    await diagnose(stack, figures, {cid for n, cid in ids.items() if f"139{n:08d}" in short})

    # nothing parked
    for group in GROUP_NAMES:
        parked = await client.get(f"/api/v1/admin/parked?group={group}", "admin")
        for item in parked["items"]:
            figures.parked.append(f"{group}: {item['type']} {item['last_error'][:200]}")


async def diagnose(stack: Stack, figures: Figures, case_ids: set[str]) -> None:
    """For a case whose SMS did not all come: its events (sequence, type, published) and where each
    group's position stands, so that a report can say which event went missing where."""
    import asyncpg

    conn = await asyncpg.connect(stack.pg.url(driver="postgresql"))
    try:
        for cid in sorted(case_ids)[:3]:
            events = await conn.fetch(
                "SELECT id, key_seq, type, published_at IS NOT NULL AS published FROM outbox"
                " WHERE ordering_key = $1 ORDER BY seq",
                cid,
            )
            handled = await conn.fetch(
                "SELECT consumer, message_id FROM inbox WHERE message_id = ANY($1::varchar[])",
                [str(e["id"]) for e in events],
            )
            by_event: dict[str, list[str]] = {}
            for h in handled:
                by_event.setdefault(str(h["message_id"]), []).append(str(h["consumer"]))
            positions = await conn.fetch(
                "SELECT consumer, last_seq FROM consumer_positions WHERE ordering_key = $1 ORDER BY consumer", cid
            )
            listed = "; ".join(
                f"{e['key_seq']} {e['type']}{'' if e['published'] else ' (unpublished)'}"
                f" [{','.join(sorted(by_event.get(str(e['id']), [])))}]"
                for e in events
            )
            figures.diagnosis.append(
                f"case {cid}: positions {dict((p['consumer'], p['last_seq']) for p in positions)}; events {listed}"
            )
    finally:
        await conn.close()


async def shown_technical_failures(client: Client, stack: Stack, figures: Figures) -> dict[str, Counter[str]]:
    """The SMS left ``technical_failure``, each checked to be shown on its case (failed) and in the
    staff's queue of failed SMS, which offers the resend: per phone, the templates so shown. One
    not shown is stuck."""
    import asyncpg

    conn = await asyncpg.connect(stack.pg.url(driver="postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT id, case_id, recipient, template_key, reason FROM notifications"
            " WHERE status = 'technical_failure' ORDER BY created_at"
        )
    finally:
        await conn.close()
    queued: set[str] = set()
    cursor: str | None = None
    while rows:
        query = "/api/v1/sms/failed?status=technical_failure&limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = await client.get(query, "supervisor")
        queued |= {item["id"] for item in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    shown: dict[str, Counter[str]] = {}
    for row in rows:
        what = f"{row['template_key']} to {row['recipient']} (case {row['case_id']}): {row['reason'][:120]}"
        case = await client.get(f"/api/v1/cases/{row['case_id']}", "supervisor")
        on_case = any(
            sms["template"] == row["template_key"] and sms["status"] == "technical_failure" and sms["failed"]
            for sms in case.get("sms", [])
        )
        if on_case and str(row["id"]) in queued:
            figures.technical_failure.append(what)
            shown.setdefault(row["recipient"], Counter())[row["template_key"]] += 1
        else:
            figures.stuck.append(
                f"technical_failure not shown (on the case: {on_case}, in the queue: "
                f"{str(row['id']) in queued}): {what}"
            )
    return shown


def without(expected: list[str], unknown: Counter[str] | None, got: list[str]) -> list[str]:
    """The expected SMS less those of unknown outcome that did not arrive (one that did arrive
    stays expected, in its place)."""
    if not unknown:
        return expected
    missing = Counter(expected) - Counter(got)
    left = list(expected)
    for template, count in unknown.items():
        for _ in range(min(count, missing[template])):
            left.remove(template)
    return left


def compare(figures: Figures, who: str, expected: list[str], got: list[str], *, ordered: bool) -> None:
    missing = Counter(expected) - Counter(got)
    extra = Counter(got) - Counter(expected)
    if missing:
        figures.lost.append(f"{who}: {sorted(missing.elements())} (got {got})")
    if extra:
        figures.duplicated.append(f"{who}: {sorted(extra.elements())} (got {got})")
    if ordered and not missing and not extra and got != expected:
        figures.out_of_order.append(f"{who}: {got}")
