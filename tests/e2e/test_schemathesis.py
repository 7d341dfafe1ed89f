"""Schemathesis against the served OpenAPI document, as each role: no server errors, every
response (status, content type and body) as the spec says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_embedded_start import served  # noqa: F401  (the fixture)

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


@pytest.mark.parametrize("role", ["window_clerk", "dept_clerk", "dept_lead", "courier", "supervisor", "admin"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(served, role):  # noqa: F811
    base, tokens, *_ = served
    st = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(st),
            "run",
            f"{base}/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {tokens[role]}",
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
