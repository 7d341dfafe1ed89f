"""`handoff custody checkpoint | verify --all | report` and `handoff render custody-report --sample`
as a person runs them, against a configured SQLite database."""

from __future__ import annotations

import io

import pypdf

from adapters.db.engine import make_engine
from adapters.db.migrate import upgrade
from tests.e2e.test_admin_commands import handoff
from tests.integration.workers.conftest import make_world
from tests.integration.workers.test_checkpoints import load, rewrite_history


def pdf_text(path) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages).replace("\n", "")


async def test_checkpoint_then_verify_all_passes_until_a_rewritten_history_is_named(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}")
    await upgrade(engine)
    world = await make_world(engine)
    rewritten = await world.to_department(await world.register())
    untouched = await world.to_department(await world.register())
    code = str((await load(world, rewritten)).code)
    await engine.dispose()

    done = handoff(tmp_path, "custody", "verify", "--all")
    assert done.returncode == 0 and "尚无检查点可比对" in done.stdout, done.stderr
    done = handoff(tmp_path, "custody", "checkpoint")
    assert done.returncode == 0 and "已生成存证检查点 No.1：2 个材料包" in done.stdout, done.stderr
    done = handoff(tmp_path, "custody", "verify", "--all")
    assert done.returncode == 0 and "与最新检查点 No.1 一致" in done.stdout, done.stderr

    done = handoff(tmp_path, "custody", "report", code, "-o", "report.pdf")
    assert done.returncode == 0 and "验证通过" in done.stdout, done.stderr
    text = pdf_text(tmp_path / "report.pdf")
    assert code in text and "已由第 1 号存证检查点固定" in text

    await rewrite_history(world, rewritten, seq=2, actor="someone-else")
    await engine.dispose()
    done = handoff(tmp_path, "custody", "verify", "--all")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"材料包 {code}：") and "历史记录被改写" in lines[0]
    assert str((await load(world, untouched)).code) not in done.stdout
    await engine.dispose()


def test_a_custody_report_renders_from_the_sample_and_an_unknown_package_is_one_chinese_line(tmp_path):
    done = handoff(tmp_path, "render", "custody-report", "--sample", "-o", "sample.pdf")
    assert done.returncode == 0, done.stderr
    assert "441581-20260302-0007-6" in pdf_text(tmp_path / "sample.pdf")
    done = handoff(tmp_path, "custody", "report", "no-such-package", "-o", "x.pdf")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "材料包 no-such-package 不存在" in done.stderr
