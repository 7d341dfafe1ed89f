"""`handoff clock` answers as the issue asks; bad arguments give one Chinese line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli.main import main


def clock(capsys, *args: str) -> dict:
    assert main(["clock", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_clock_reports_every_field_for_a_decided_case(capsys):
    out = clock(
        capsys,
        "--accepted",
        "2026-03-02",
        "--limit",
        "20",
        "--stage",
        "expert_review:2026-03-10:2026-03-20",
        "--decided",
        "2026-03-30",
        "--at",
        "2026-04-03",
    )
    assert {
        k: out[k] for k in ("due_date", "used", "remaining", "excluded_days", "early", "overdue", "provisional")
    } == {
        "due_date": "2026-04-10",
        "used": 12,
        "remaining": 8,
        "excluded_days": 8,
        "early": True,
        "overdue": False,
        "provisional": False,
    }
    assert out["provisional_reason"] is None
    assert out["stages"] == [
        {
            "type": "expert_review",
            "start": "2026-03-10",
            "end": "2026-03-20",
            "working_days": 8,
            "calendar_days": 10,
            "limit": None,
            "over_limit": False,
        }
    ]


def test_an_open_stage_and_an_extension(capsys):
    out = clock(
        capsys,
        "--accepted",
        "2026-03-02",
        "--limit",
        "20",
        "--stage",
        "inspection:2026-04-01:",
        "--extend",
        "10",
        "--at",
        "2026-04-03",
    )
    assert (out["due_date"], out["used"], out["remaining"], out["early"], out["paused"]) == (
        "2026-04-16",
        22,
        8,
        None,
        True,
    )


def test_the_legal_limit_runs_beside_the_promised_one(capsys):
    out = clock(capsys, "--accepted", "2026-03-02", "--limit", "5", "--legal-limit", "15", "--at", "2026-03-24")
    assert (out["due_date"], out["overdue"], out["used"]) == ("2026-03-09", True, 16)
    assert (out["legal_due_date"], out["legal_overdue"], out["legal_remaining"]) == ("2026-03-23", True, -1)
    out = clock(capsys, "--accepted", "2026-03-02", "--limit", "5", "--at", "2026-03-24")
    assert out["legal_due_date"] is None and out["legal_overdue"] is None


def test_a_calendar_file_removes_the_provisional_mark(capsys, tmp_path):
    out = clock(capsys, "--accepted", "2026-12-30", "--limit", "2", "--at", "2026-12-30")
    assert out["provisional"] and out["due_date"] == "2027-01-01"
    f = tmp_path / "2027.toml"
    f.write_text('year = 2027\nsource = "测试"\nholidays = ["2027-01-01"]\nworkdays = []\n', encoding="utf-8")
    out = clock(capsys, "--accepted", "2026-12-30", "--limit", "2", "--at", "2026-12-30", "--calendar", str(f))
    assert not out["provisional"] and out["due_date"] == "2027-01-04"


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "3"],
        ["--accepted", "2026-02-30", "--limit", "3"],
        ["--accepted", "2026-03-02", "--limit", "-1"],
        ["--accepted", "2026-03-02", "--limit", "3", "--stage", "party:2026-03-03:"],
        ["--accepted", "2026-03-02", "--limit", "3", "--stage", "inspection:2026-03-05:2026-03-04"],
        ["--accepted", "2026-03-02", "--limit", "3", "--stage", "inspection:2026-03-01:2026-03-04"],
        ["--accepted", "2026-03-02", "--limit", "3", "--decided", "2026-03-01"],
        ["--accepted", "2026-03-02", "--limit", "3", "--calendar", "/nonexistent.toml"],
        ["--accepted", "2026-03-02", "--limit", "5", "--legal-limit", "3"],
        ["--accepted", "2026-03-02", "--limit", "5", "--legal-limit", "x"],
    ],
)
def test_bad_arguments_give_one_chinese_line_and_exit_2(args):
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "clock", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "错误" in lines[0] and "Traceback" not in done.stderr
    assert done.stdout == ""
