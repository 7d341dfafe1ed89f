"""`handoff migrate` and `handoff token create` against a configured database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
