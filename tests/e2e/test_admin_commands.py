"""`handoff migrate` and `handoff token create` against a configured database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def handoff(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env.update(HANDOFF_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_then_create_a_token_printed_once_and_stored_hashed(tmp_path):
    done = handoff(tmp_path, "migrate")
    assert done.returncode == 0 and "最新结构" in done.stdout
    done = handoff(
        tmp_path,
        "token",
        "create",
        "--role",
        "window_clerk",
        "--scope",
        "office:win-441581",
        "--name",
        "陈晓红",
        "--user-id",
        "clerk-chen",
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["token"].startswith("hf_") and printed["scope"] == "office:win-441581"
    assert printed["token"].encode() not in (tmp_path / "ops.db").read_bytes()


def test_bad_token_arguments_are_one_chinese_line(tmp_path):
    for args in (
        ["token", "create", "--role", "king", "--scope", "*"],
        ["token", "create", "--role", "admin", "--scope", "planet:earth"],
    ):
        done = handoff(tmp_path, *args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "错误" in done.stderr


def test_token_create_never_changes_an_existing_user_and_its_token_expires(tmp_path):
    clerk = ["token", "create", "--scope", "office:win-441581", "--name", "陈晓红", "--user-id", "clerk-chen"]
    last_day = (datetime.now(UTC) + timedelta(days=10)).date()
    first = handoff(tmp_path, *clerk, "--role", "window_clerk", "--expires", last_day.isoformat())
    assert first.returncode == 0, first.stderr
    expires_at = datetime.fromisoformat(json.loads(first.stdout)["expires_at"])
    assert expires_at == datetime.combine(last_day, time(16), UTC)  # valid through that day, China time
    refused = handoff(tmp_path, *clerk, "--role", "admin")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "PATCH /api/v1/admin/users/clerk-chen" in refused.stderr
    again = handoff(tmp_path, *clerk, "--role", "window_clerk", "--expires", "7")
    assert again.returncode == 0, again.stderr
    courier = handoff(tmp_path, "token", "create", "--role", "courier", "--scope", "region:4415", "--user-id", "c1")
    issued = datetime.fromisoformat(json.loads(courier.stdout)["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=29) < issued <= timedelta(days=30)
    for bad in ("0", "400", "昨天", "2020-01-01"):
        done = handoff(tmp_path, *clerk, "--role", "window_clerk", "--expires", bad)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
