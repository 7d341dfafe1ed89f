"""Schemathesis against the served OpenAPI document, as each role: no server errors, every
response (status, content type and body) as the spec says. The six roles take turns on one
served instance (its demo world built once), as the six kinds of user share one service."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.demo import DEMO_USERS

from .test_embedded_start import serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    yield from serving(tmp_path_factory.mktemp("served"))


def bearer_token(workdir: Path, role: str) -> str:
    """A token for the demo user of ROLE, made as an operator makes one for a device (the demo's
    start issues none: staff sign in with passwords)."""
    user_id, name, _, scope = next(u for u in DEMO_USERS if u[2] == role)
    create = ["token", "create", "--role", role, "--scope", scope, "--user-id", user_id, "--name", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    made = subprocess.run(
        [sys.executable, "-m", "cli.main", *create, "--expires", "1"],
        cwd=workdir,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "HANDOFF_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(made.stdout.strip().splitlines()[-1])["token"])


CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


@pytest.mark.parametrize("role", ["window_clerk", "dept_clerk", "dept_lead", "courier", "supervisor", "admin"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(served, role):
    base, _, _, _, workdir = served
    st = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(st),
            "run",
            f"{base}/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {bearer_token(workdir, role)}",
            "--checks",
            CHECKS,
            "-n",
            "12",
            "--no-color",
            "--seed",
            "20261123",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = done.stdout[-3000:]
    assert done.returncode == 0, summary
    counts = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counts is not None and counts.group(1) == counts.group(2) and int(counts.group(1)) > 500, summary
