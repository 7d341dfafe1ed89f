"""A private RabbitMQ node for tests that stop and start their broker (fault passes): its own
node name, ports, HOME with its own Erlang cookie, configuration, data and logs under a temporary
directory; never the machine's shared node (``rabbit@localhost`` on 5672). The commands are the
measured ones of ../shared/reference/rabbitmq-cluster.md, for one node.

Without the server (``/usr/lib/rabbitmq/bin``) the test is skipped, or fails with CI=true.

    with private_rabbit() as node:
        url = node.url()
        ...
        node.restart()   # killed (SIGKILL) and started again: same data, same port
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.db import service_missing
from tests.support.private_pg import free_port

__all__ = ["PrivateRabbit", "private_rabbit"]

BIN = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbit:
    def __init__(self, root: Path, port: int, dist_port: int) -> None:
        self.root = root
        self.port = port
        self.dist_port = dist_port
        self.name = f"hf{uuid.uuid4().hex[:8]}@localhost"
        self.home = root / "home"
        self.pid_file = root / "pid"
        self.log_dir = root / "log"

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")}
        env.update(
            HOME=str(self.home),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.root / "advanced.config"),
            RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.log_dir),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def init(self) -> None:
        self.home.mkdir(parents=True)
        (self.root / "mnesia").mkdir()
        self.log_dir.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
        cookie.chmod(0o400)
        (self.root / "rabbitmq-env.conf").write_text("")
        (self.root / "enabled_plugins").write_text("[].\n")
        # the shared node's guest may log in from 127.0.0.1 only, which is where we are
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")

    def _ctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "rabbitmqctl"), "-q", "-n", self.name, *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        done = subprocess.run(
            [str(BIN / "rabbitmq-server"), "-detached"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmq-server failed: {done.stdout}{done.stderr}")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # await_startup fails at once until the node is registered with epmd
            if self._ctl("await_startup", "--timeout", "60").returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the private RabbitMQ node did not start:\n{self.log_tail()}")

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """As if the machine lost the broker: SIGKILL, then wait for the process to be gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        """A clean stop that waits for the process to exit (with the pid file)."""
        if self.pid() is not None:
            done = self._ctl("stop", str(self.pid_file))
            if done.returncode != 0:
                self.kill()

    def log_tail(self) -> str:
        logs = sorted(self.log_dir.glob("*.log"))
        return "".join(p.read_text(errors="replace")[-2000:] for p in logs)


@contextmanager
def private_rabbit() -> Iterator[PrivateRabbit]:
    """A fresh node, started; stopped and deleted afterwards whatever happened."""
    if not (BIN / "rabbitmq-server").exists():
        service_missing(f"the RabbitMQ server ({BIN})", FileNotFoundError("rabbitmq-server"))
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="handoff-rabbit-"))
    node = PrivateRabbit(root, free_port(), free_port())
    try:
        node.init()
        node.start()
        yield node
    finally:
        try:
            node.stop()
        finally:
            node.kill()
            shutil.rmtree(root, ignore_errors=True)
