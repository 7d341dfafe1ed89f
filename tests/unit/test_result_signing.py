"""Who signs electronic results: the PKCS#12 files of the settings, per department or one for the
deployment; a self-signed 演示证书 only in development, and never in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.pades import DEMO_LABEL, make_identity, pkcs12_bytes
from adapters.settings import Settings
from cli.bootstrap import result_signers
from handoff.errors import InvalidInput


def p12(tmp_path: Path, name: str, passphrase: bytes = b"secret") -> str:
    ca = make_identity("测试根证书")
    cert, key = make_identity(name, issuer=ca)
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.p12"
    path.write_bytes(pkcs12_bytes(cert, key, passphrase, [ca[0]]))
    return str(path)


def test_one_certificate_per_department_or_one_for_the_deployment(tmp_path):
    qx, everyone = p12(tmp_path, "汕尾市气象局"), p12(tmp_path, "汕尾市政务服务数据管理局")
    signers = result_signers(
        Settings(result_signing=f"dept-441500-qx={qx};*={everyone}", result_signing_passphrase="secret")
    )
    assert {k: s.name for k, s in signers.items()} == {
        "dept-441500-qx": "汕尾市气象局",
        "*": "汕尾市政务服务数据管理局",
    }
    assert not any(s.demo for s in signers.values())
    with pytest.raises(InvalidInput, match="口令"):
        result_signers(Settings(result_signing=qx, result_signing_passphrase="wrong"))
    with pytest.raises(InvalidInput, match="无法读取"):
        result_signers(Settings(result_signing=str(tmp_path / "missing.p12")))


def test_a_demo_certificate_is_made_in_development_only_and_refused_in_production(tmp_path):
    (demo,) = result_signers(Settings(env="development")).values()
    assert demo.demo and DEMO_LABEL in demo.name
    assert result_signers(Settings(env="production")) == {}
    labelled = p12(tmp_path, f"汕尾市气象局（{DEMO_LABEL}）", b"")
    with pytest.raises(InvalidInput, match="演示证书"):
        result_signers(Settings(env="production", result_signing=labelled))
