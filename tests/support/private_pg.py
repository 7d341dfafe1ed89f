"""A private PostgreSQL cluster for tests that stop and start their database (outages, fault
passes): ``initdb`` in a temporary directory, its own spare port on 127.0.0.1 and its own socket
directory, trust authentication for ``postgres``; never the machine's shared cluster.

PostgreSQL refuses to run as root: when the tests run as root, every server command runs as the
``postgres`` user (``runuser -u postgres``) and the directory is handed to that user. Without
the server binaries (``/usr/lib/postgresql/*/bin``) the test is skipped, or fails with CI=true.

    with private_postgres() as pg:
        engine = make_engine(pg.url())
        ...
        pg.stop()     # fast shutdown: sessions are terminated (AdminShutdownError), then refused
        pg.start()    # same data, same port
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.db import service_missing

__all__ = ["PrivatePostgres", "free_port", "private_postgres", "server_bin"]


def server_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (initdb, pg_ctl), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    def __init__(self, root: Path, bin_dir: Path, port: int, max_connections: int = 40) -> None:
        self.root = root
        self.max_connections = max_connections
        self.bin = bin_dir
        self.port = port
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        self.as_postgres = os.geteuid() == 0

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}\n{log}")

    def init(self) -> None:
        self.sockets.mkdir()
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections} "
            "-c shared_buffers=16MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: open sessions are terminated; ``immediate``: as if the server crashed."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres(max_connections: int = 40) -> Iterator[PrivatePostgres]:
    """A fresh cluster, started; stopped and deleted afterwards whatever happened. Each process of
    Handoff may hold up to 20 connections (a pool of 10 and as many more): a test that starts
    several raises ``max_connections``."""
    bin_dir = server_bin()
    if bin_dir is None:
        service_missing("the PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", FileNotFoundError("initdb"))
        raise AssertionError("unreachable")
    root = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
    cluster = PrivatePostgres(root, bin_dir, free_port(), max_connections)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.running():
                cluster.stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)
