"""A private RabbitMQ cluster for tests: N nodes on spare ports under a temporary directory, with
their own HOME, Erlang cookie, configuration files and node names — the machine's shared node
(``rabbit@localhost``, 5672) is never touched. The commands are those of
../shared/reference/rabbitmq-cluster.md: the scripts of /usr/lib/rabbitmq/bin (not the /usr/sbin
wrappers), ``await_startup`` retried until the node has registered with epmd, ``join_cluster``
to the first node, ``stop`` with the pid file (it waits for the process), ``kill -9`` by pid file.

Node names carry a random tag, so two test runs on one machine (one epmd) never meet."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path("/usr/lib/rabbitmq/bin")


def available() -> bool:
    return (BIN / "rabbitmq-server").exists() and (BIN / "rabbitmqctl").exists()


def spare_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    """The Erlang node name, ``TAGcN@localhost``."""
    port: int
    dist_port: int
    home: Path
    """This node's directory (configuration, data, logs, pid file)."""

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@dataclass
class RabbitCluster:
    base: Path
    size: int = 3
    tag: str = field(default_factory=lambda: "h" + secrets.token_hex(3))
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [
            Node(f"{self.tag}c{i}@localhost", spare_port(), spare_port(), self.base / f"c{i}")
            for i in range(1, self.size + 1)
        ]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def env(self, node: Node) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base / "home"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_CONFIG_FILE": str(node.home / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.home / "advanced.config"),
            "RABBITMQ_MNESIA_BASE": str(node.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.home / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.home / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(node.pid_file),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _prepare(self) -> None:
        home = self.base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
            cookie.chmod(0o400)
        (self.base / "rabbitmq-env.conf").write_text("")
        for node in self.nodes:
            (node.home / "mnesia").mkdir(parents=True, exist_ok=True)
            (node.home / "log").mkdir(parents=True, exist_ok=True)
            (node.home / "enabled_plugins").write_text("[].\n")
            (node.home / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{node.port}\n")

    def ctl(self, node: Node, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "rabbitmqctl"), "-q", "-n", node.name, *args],
            env=self.env(node),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _launch(self, node: Node) -> None:
        subprocess.run(
            [str(BIN / "rabbitmq-server"), "-detached"],
            env=self.env(node),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def await_startup(self, node: Node, attempts: int = 120) -> None:
        # await_startup fails at once (exit 69) until the node has registered with epmd: retry it
        for _ in range(attempts):
            if self.ctl(node, "await_startup", "--timeout", "60").returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"RabbitMQ node {node.name} did not start: {self.log_tail(node)}")

    def start(self) -> None:
        """Start every node, wait for each, join the others to the first."""
        self._prepare()
        for node in self.nodes:
            self._launch(node)
        for node in self.nodes:
            self.await_startup(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            for step in (("stop_app",), ("join_cluster", first.name), ("start_app",)):
                done = self.ctl(node, *step)
                if done.returncode != 0:
                    raise RuntimeError(f"{node.name} {' '.join(step)}: {done.stderr or done.stdout}")

    def kill(self, node: Node) -> None:
        """``kill -9`` the node's Erlang VM."""
        pid = node.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def restart(self, node: Node) -> None:
        self._launch(node)
        self.await_startup(node)

    def queues(self, via: Node | None = None) -> list[dict[str, Any]]:
        """``list_queues name type leader members`` as seen by a live node."""
        candidates = [via] if via is not None else [n for n in self.nodes if n.alive()]
        errors = []
        for node in candidates:
            done = self.ctl(node, "list_queues", "name", "type", "leader", "members", "--formatter", "json")
            if done.returncode == 0:
                rows: list[dict[str, Any]] = json.loads(done.stdout or "[]")
                return rows
            errors.append(done.stderr)
        raise RuntimeError(f"list_queues failed: {errors}")

    def node_named(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def log_tail(self, node: Node, lines: int = 20) -> str:
        texts = []
        for path in sorted((node.home / "log").glob("*.log")):
            with contextlib.suppress(OSError):
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts[-lines:])

    def stop(self) -> None:
        """Stop every node (all at once; each ``stop`` with the pid file waits for its process),
        kill what is left, remove the directory."""

        def stop_one(node: Node) -> None:
            if node.alive():
                with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                    self.ctl(node, "stop", str(node.pid_file), timeout=60)
            if node.alive():
                self.kill(node)

        try:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(stop_one, reversed(self.nodes)))
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
