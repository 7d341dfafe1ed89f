"""Production refuses to be unsafe (DESIGN §12, issue 13 item 9), as real processes: with a
development key or demo data, `handoff serve` and `handoff worker` exit 2 with one Chinese line
and start nothing, unless HANDOFF_ENV=development; with keys of its own and no demo data, serve
starts. And a restart of the embedded start keeps what an admin changed in a demo user."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.broker.topology import groups
from tests.support.rabbit import AMQP_URL, TEST_GROUPS, rabbit_prefix

from .test_embedded_start import call, free_port

ROOT = Path(__file__).resolve().parents[2]
OWN_KEYS = {
    "HANDOFF_SCAN_KEYS": "P1:" + base64.b64encode(b"scan-key-of-this-deployment-32b!").decode(),
    "HANDOFF_TRACKING_KEY": base64.b64encode(b"tracking-key-of-this-deployment!").decode(),
    "HANDOFF_ID_KEYS": "P1:" + base64.b64encode(b"id-key-of-this-deployment-32byt!").decode(),
    "HANDOFF_ID_HASH_KEY": base64.b64encode(b"id-hash-key-of-this-deployment!!").decode(),
    "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"checkpoint-key-of-this-deploymnt").decode(),
}


def environment(**handoff: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    return {**env, "PYTHONPATH": str(ROOT), **handoff}


def handoff(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_chinese_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert re.search(r"[\u4e00-\u9fff]", lines[0]) and done.stdout == ""
    return lines[0]


class Started:
    """A long-running command, its output read up to the line that says it is ready."""

    def __init__(self, cwd: Path, env: dict[str, str], ready: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if ready in line:
                break
        self.output = "".join(lines)
        if ready not in self.output:
            self.process.kill()
            self.process.wait()
            raise AssertionError(self.output)

    def stop(self) -> int:
        """SIGTERM, then the exit status (the rest of the output is kept in ``output``)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.output += self.process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return self.process.returncode


@pytest.fixture
async def prefix():
    gen = rabbit_prefix()
    value = await gen.__anext__()
    TEST_GROUPS.extend(groups(value).values())
    yield value
    await gen.aclose()


def test_serve_with_development_keys_or_demo_data_exits_2_with_one_chinese_line(tmp_path):
    line = one_chinese_line(handoff(tmp_path, environment(), "serve", "--port", str(free_port())))
    assert "HANDOFF_TRACKING_KEY" in line and "演示数据" in line and "HANDOFF_ENV=development" in line
    line = one_chinese_line(handoff(tmp_path, environment(**OWN_KEYS), "serve", "--port", str(free_port())))
    assert "演示数据" in line and "开发用默认密钥" not in line
    one_chinese_line(
        handoff(tmp_path, environment(HANDOFF_DEMO_DATA="false"), "serve", "--no-demo", "--port", str(free_port()))
    )
    one_key_left = {k: v for k, v in OWN_KEYS.items() if k != "HANDOFF_ID_HASH_KEY"}  # enough to refuse
    production = environment(**one_key_left, HANDOFF_ENV="production")
    line = one_chinese_line(handoff(tmp_path, production, "serve", "--no-demo", "--port", str(free_port())))
    assert "HANDOFF_ID_HASH_KEY" in line and "HANDOFF_SCAN_KEYS" not in line
    one_chinese_line(handoff(tmp_path, environment(HANDOFF_ENV="prod"), "serve", "--port", str(free_port())))
    assert not (tmp_path / "var").exists()  # refused before anything was made


def test_serve_with_keys_of_its_own_and_no_demo_data_starts_without_handoff_env(tmp_path):
    args = ("serve", "--no-demo", "--port", str(free_port()))
    started = Started(tmp_path, environment(**OWN_KEYS), "按 Ctrl+C 停止", *args)
    try:
        assert "开发用默认密钥" not in started.output and "演示账号" not in started.output
    finally:
        assert started.stop() == 0


def test_worker_with_development_keys_or_demo_data_exits_2_unless_handoff_env_is_development(tmp_path, prefix):
    broker = {"HANDOFF_BROKER_URL": AMQP_URL, "HANDOFF_BROKER_PREFIX": prefix}
    args = ("worker", "--group", "deadlines", "--metrics-port", "0")
    line = one_chinese_line(handoff(tmp_path, environment(**broker, HANDOFF_DEMO_DATA="false"), *args))
    assert "HANDOFF_SCAN_KEYS" in line and "演示数据" not in line
    line = one_chinese_line(handoff(tmp_path, environment(**broker, **OWN_KEYS), *args))
    assert "演示数据" in line
    started = Started(tmp_path, environment(**broker, HANDOFF_ENV="development"), "消费组已启动", *args)
    try:
        assert "消费组已启动：deadlines" in started.output
    finally:
        code = started.stop()
    assert code == 0, started.output


def test_a_restart_of_the_embedded_start_keeps_an_admins_change_to_a_demo_user(tmp_path):
    env = environment(HANDOFF_ENV="development", HANDOFF_SMS_CONSOLE_FILE=str(tmp_path / "sms.jsonl"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def admin_token(scope: str) -> str:
        """A token for the demo admin as it is now (the demo start issues none; a token never
        changes its user, so the scope given must be the user's own)."""
        done = handoff(tmp_path, env, "token", "create", "--role", "admin", "--scope", scope, "--user-id", "admin")
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["token"])

    started = Started(tmp_path, env, "按 Ctrl+C 停止", "serve", "--port", str(port))
    try:
        status, changed = call_patch(f"{base}/api/v1/admin/users/admin", admin_token("*"), {"scope": "region:4415"})
        assert status == 200 and changed["scope"] == "region:4415"
    finally:
        assert started.stop() == 0
    started = Started(tmp_path, env, "按 Ctrl+C 停止", "serve", "--port", str(port))
    try:
        assert "演示数据：34 个示例办件（此前已生成）" in started.output  # the demo cases are not built twice
        token = admin_token("region:4415")
        status, users = call(f"{base}/api/v1/admin/users", {"Authorization": f"Bearer {token}"})
        assert status == 200
        assert {u["id"]: u["scope"] for u in users["items"]}["admin"] == "region:4415"
        status, _ = call(f"{base}/api/v1/admin/parked?group=notifications", {"Authorization": f"Bearer {token}"})
        assert status == 403  # parked messages are for an admin of scope *, which this one no longer is
    finally:
        assert started.stop() == 0


def call_patch(url: str, token: str, body: dict) -> tuple[int, dict]:
    import json
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
