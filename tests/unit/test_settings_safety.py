"""What production refuses (DESIGN §12): every development key named in one list, demo data, and
HANDOFF_ENV=development as the only escape hatch; and how long a token lasts."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from adapters.settings import DEV_KEYS, Settings, TokenLifetimes
from handoff.errors import InvalidInput

OWN = {
    "HANDOFF_SCAN_KEYS": "P1:" + base64.b64encode(b"s" * 32).decode(),
    "HANDOFF_TRACKING_KEY": base64.b64encode(b"t" * 32).decode(),
    "HANDOFF_ID_KEYS": "P1:" + base64.b64encode(b"i" * 32).decode(),
    "HANDOFF_ID_HASH_KEY": base64.b64encode(b"h" * 32).decode(),
    "HANDOFF_CHECKPOINT_KEY": base64.b64encode(b"c" * 32).decode(),
    "HANDOFF_DEMO_DATA": "false",
}
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def test_every_development_key_is_in_the_one_list_and_each_alone_is_refused():
    assert {f"HANDOFF_{name.upper()}" for name in DEV_KEYS} == set(OWN) - {"HANDOFF_DEMO_DATA"}
    assert Settings.from_env(OWN).production_refusal() is None
    for name in DEV_KEYS:
        env = {k: v for k, v in OWN.items() if k != f"HANDOFF_{name.upper()}"}
        refusal = Settings.from_env(env).production_refusal()
        assert refusal is not None and f"HANDOFF_{name.upper()}" in refusal and "\n" not in refusal
        assert Settings.from_env({**env, "HANDOFF_ENV": "development"}).production_refusal() is None


def test_demo_data_is_refused_in_production_and_a_misspelt_environment_is_not_taken_for_development():
    refusal = Settings.from_env({**OWN, "HANDOFF_DEMO_DATA": "true"}).production_refusal()
    assert refusal is not None and "演示数据" in refusal
    assert Settings.from_env(OWN, demo_data=True).production_refusal() is not None
    assert "HANDOFF_ENV" in (Settings.from_env({**OWN, "HANDOFF_ENV": "dev"}).production_refusal() or "")
    assert Settings.from_env({"HANDOFF_ENV": " Development "}).production_refusal() is None


def test_a_session_idles_out_after_30_minutes_or_as_configured_between_1_and_720():
    assert Settings().session_idle() == 30
    assert Settings.from_env({"HANDOFF_SESSION_IDLE_MINUTES": "15"}).session_idle() == 15
    for bad in ("0", "721"):
        with pytest.raises(InvalidInput):
            Settings.from_env({"HANDOFF_SESSION_IDLE_MINUTES": bad}).session_idle()


def test_tokens_last_90_days_for_staff_30_for_couriers_or_as_configured():
    assert TokenLifetimes().expiry("dept_clerk", NOW) == NOW + timedelta(days=90)
    assert TokenLifetimes().expiry("courier", NOW) == NOW + timedelta(days=30)
    configured = Settings.from_env({"HANDOFF_TOKEN_DAYS_STAFF": "14", "HANDOFF_TOKEN_DAYS_COURIER": "7"})
    assert configured.token_lifetimes().expiry("admin", NOW) == NOW + timedelta(days=14)
    assert configured.token_lifetimes().expiry("courier", NOW) == NOW + timedelta(days=7)
    assert TokenLifetimes().expiry("courier", NOW, days=3) == NOW + timedelta(days=3)
    assert TokenLifetimes().expiry("courier", NOW, until="2026-03-05T12:00:00+08:00") == datetime(
        2026, 3, 5, 4, tzinfo=UTC
    )
    with pytest.raises(InvalidInput):
        Settings.from_env({"HANDOFF_TOKEN_DAYS_COURIER": "0"}).token_lifetimes()


async def test_the_test_password_cost_is_refused_in_production_and_hashes_of_both_costs_verify():
    from adapters import passwords

    refusal = Settings.from_env({**OWN, "HANDOFF_PASSWORD_COST": "test"}).production_refusal()
    assert refusal is not None and "HANDOFF_PASSWORD_COST" in refusal
    assert (
        Settings.from_env({**OWN, "HANDOFF_PASSWORD_COST": "test", "HANDOFF_ENV": "development"}).production_refusal()
        is None
    )
    with pytest.raises(InvalidInput, match="HANDOFF_PASSWORD_COST"):
        passwords.use_cost("cheap")
    before = passwords._HASHER
    try:
        passwords.use_cost("standard")
        standard = await passwords.hash_password("口令-1")
        passwords.use_cost("test")
        cheap = await passwords.hash_password("口令-1")
        assert standard.startswith("$argon2id$") and "m=65536" in standard
        assert cheap.startswith("$argon2id$") and "m=65536" not in cheap
        for h in (standard, cheap):
            assert await passwords.verify_password(h, "口令-1")
            assert not await passwords.verify_password(h, "口令-2")
    finally:
        passwords._HASHER = before
