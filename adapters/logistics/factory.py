"""Builds a configured carrier's tracking client by name (for the CLI and the composition root)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp

from adapters.logistics.ems import Ems
from adapters.logistics.internal import InternalCourier
from adapters.logistics.kuaidi100 import Kuaidi100
from adapters.logistics.settings import EmsSettings, Kuaidi100Settings, SettingsError, SfSettings
from adapters.logistics.sf import SfExpress
from handoff.ports import CarrierTracking, Clock, TrackingEvent

CARRIERS = ("sf", "kuaidi100", "ems", "internal")


async def _no_history(waybill: str) -> Sequence[TrackingEvent]:
    return ()


def build_tracking(name: str, env: Mapping[str, str], session: aiohttp.ClientSession, clock: Clock) -> CarrierTracking:
    if name == "sf":
        return SfExpress(SfSettings.from_env(env), session, clock)
    if name == "kuaidi100":
        company = env.get("HANDOFF_KUAIDI100_COMPANY", "").strip() or "shunfeng"
        return Kuaidi100(Kuaidi100Settings.from_env(env), session, company)
    if name == "ems":
        return Ems(EmsSettings.from_env(env), session, clock)
    if name == "internal":
        # Outside the service the courier API's records are not at hand.
        return InternalCourier(_no_history)
    raise SettingsError(f"未知的承运商：{name}（可选：{'、'.join(CARRIERS)}）")
