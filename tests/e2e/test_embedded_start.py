"""The README's run command, for real: `handoff serve` with no configuration but the embedded
start's HANDOFF_ENV=development (what `./dev serve` sets) starts, prints its URL, the demo users
and their one password, lets them sign in, serves a whole registration, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(url: str, auth: dict[str, str] | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(auth or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def sign_in(base: str, user_id: str, password: str) -> dict[str, str]:
    """Sign in as the console does: the session cookie back, and the CSRF cookie echoed in its header."""
    request = urllib.request.Request(
        f"{base}/api/v1/session",
        data=json.dumps({"user_id": user_id, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        cookies: SimpleCookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie"):
            cookies.load(header)
    assert not cookies["handoff_session"]["secure"]  # served over plain HTTP on 127.0.0.1
    return {
        "Cookie": "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items()),
        "X-CSRF-Token": cookies["handoff_csrf"].value,
    }


@pytest.fixture
def served(tmp_path: Path):
    yield from serving(tmp_path)


def serving(workdir: Path):
    """``handoff serve`` as ./dev serve runs it, in WORKDIR: yields (base URL, the demo users'
    sign-ins by role, the process, what it printed, WORKDIR); killed afterwards if still running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=workdir,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "HANDOFF_ENV": "development"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "按 Ctrl+C 停止" in line:
            break
    output = "".join(lines)
    password = re.search(r"演示密码：(\S+?)）", output)
    roles = "window_clerk|dept_clerk|dept_lead|courier|supervisor|admin"
    users = dict(re.findall(rf"^\s+([\w.-]+)\s+({roles})\s+\S+$", output, re.M))
    base = f"http://127.0.0.1:{port}"
    logins = {role: sign_in(base, user_id, password[1]) for user_id, role in users.items()} if password else {}
    yield base, logins, process, output, workdir
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()


def sent(database: Path, case_id: str) -> bool:
    import sqlite3

    with sqlite3.connect(database) as conn:
        query = "SELECT count(*) FROM notifications WHERE status != 'created' AND case_id = ?"
        return bool(conn.execute(query, (case_id,)).fetchone()[0])


def test_serve_starts_on_sqlite_with_demo_data_and_stops_cleanly(served):
    base, tokens, process, output, workdir = served
    assert f"Handoff 已启动：{base}" in output
    assert set(tokens) == {"window_clerk", "dept_clerk", "dept_lead", "courier", "supervisor", "admin"}
    assert call(f"{base}/healthz")[0] == 200
    assert call(f"{base}/readyz")[1]["checks"] == {"database": "ok", "broker": "ok"}
    status, case = call(
        f"{base}/api/v1/cases",
        tokens["window_clerk"],
        {
            "matter_id": "m-flzz-ys",
            "mode": "proxy_collect",
            "delivery": "mail_to_applicant",
            "window_office_id": "win-441581",
            "applicant": {"name": "王五", "phone": "13900001111", "address": "陆丰市东海街道人民路 8 号"},
            "materials": [
                {"name": "《防雷装置竣工验收申请书》"},
                {"name": "防雷装置竣工图纸"},
                {"name": "施工单位的资质证"},
                {"name": "授权委托书"},
            ],
        },
    )
    assert status == 201, case
    token = case["tracking_url"].rsplit("/", 1)[1]
    status, tracking = call(f"{base}/api/v1/track/{token}")
    assert status == 200 and tracking["applicant_name"] == "王*"
    with urllib.request.urlopen(f"{base}/t/{token}", timeout=10) as response:
        assert response.status == 200 and "王*" in response.read().decode()
    assert f"工作台：{base}/console" in output
    with urllib.request.urlopen(f"{base}/console", timeout=10) as response:
        assert response.status == 200 and "/console/app.js" in response.read().decode()
    database = workdir / "var" / "handoff.db"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not sent(database, case["id"]):
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    sms = [json.loads(line) for line in process.stdout.read().splitlines() if line.startswith('{"provider_message_id"')]
    # The demo cases' past steps are not texted; what the watchers find in them now (a package
    # to chase, a deadline near) goes to the staff, never to a demo applicant.
    assert not [m for m in sms if m["phone"].startswith("1370000")]
    mine = [m for m in sms if m["phone"] == "13900001111"]
    assert [m["template"] for m in mine] == ["receipt"]
    assert token in mine[0]["text"] and mine[0]["text"].startswith("【")


def test_the_demo_prints_user_names_and_one_password_and_no_tokens(served):
    _, logins, _, output, _ = served
    assert "演示密码：shanwei-demo" in output and "hf_" not in output
    assert "clerk-lf" in output and "陈晓红（陆丰窗口）" in output
    assert len(logins) == 6


def test_the_demo_staff_have_demo_mobiles_and_the_admin_api_reaches_the_in_process_bus(served):
    base, tokens, *_ = served
    status, users = call(f"{base}/api/v1/admin/users", tokens["admin"])
    assert status == 200
    phones = {u["id"]: u["phone"] for u in users["items"]}
    # the six demo users, and the clerks who acted in the demo cases at the other offices
    assert {"clerk-lf", "dept-zj", "lead-zj", "courier-07", "supervisor", "admin", "clerk-cq"} <= phones.keys()
    assert all(re.fullmatch(r"1380000\d{4}", p) for p in phones.values()), phones
    assert all(u["active_tokens"] == 0 for u in users["items"])  # the demo signs in with passwords
    status, parked = call(f"{base}/api/v1/admin/parked?group=notifications", tokens["admin"])
    assert status == 200 and parked == {"group": "notifications", "items": []}
    status, lead = call(f"{base}/api/v1/lead/inbox", tokens["dept_lead"])
    assert status == 200 and lead["unremarked"] == 1  # a demo case copied to the lead, not yet remarked


def test_a_newcomers_first_screens_show_the_demo_cases(served):
    """The console's lists, the supervisor's ledger, indicators and deadline board are not empty."""
    base, tokens, _, output, _ = served
    assert "演示数据：34 个示例办件（本次生成）" in output
    status, ledger = call(f"{base}/api/v1/ledger?limit=200", tokens["supervisor"])
    assert status == 200 and len(ledger["items"]) == 34
    assert len({row["window"] for row in ledger["items"]}) == 4
    for row in ledger["items"]:  # every demo case opens, whatever its state
        status, view = call(f"{base}/api/v1/cases/{row['case_id']}", tokens["supervisor"])
        assert status == 200 and view["state"] == row["state"], view
    status, mine = call(f"{base}/api/v1/ledger?limit=200", tokens["window_clerk"])  # 陆丰's window only
    assert (
        status == 200
        and len(mine["items"]) >= 10
        and {row["window"] for row in mine["items"]} == {"陆丰市政务服务中心市域通办窗口"}
    )
    status, board = call(f"{base}/api/v1/deadlines?kind=overdue", tokens["supervisor"])
    assert status == 200 and board["items"]
    status, soon = call(f"{base}/api/v1/deadlines?kind=due_soon", tokens["supervisor"])
    assert status == 200 and soon["items"]
    deadline = time.monotonic() + 20  # the indicators are a projection the workers keep
    while time.monotonic() < deadline:
        status, figures = call(f"{base}/api/v1/indicators?group=window", tokens["supervisor"])
        if status == 200 and figures["cases"] == 34:
            break
        time.sleep(0.2)
    assert status == 200 and figures["cases"] == 34 and len(figures["groups"]) == 4, figures
