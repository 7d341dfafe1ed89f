"""Builds a configured carrier's tracking client by name (for the CLI and the composition root)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import aiohttp

from adapters.logistics.ems import Ems
from adapters.logistics.internal import InternalCourier
from adapters.logistics.kuaidi100 import Kuaidi100
from adapters.logistics.settings import EmsSettings, Kuaidi100Settings, SettingsError, SfSettings
from adapters.logistics.sf import SfExpress
from handoff.ports import CarrierBooking, CarrierTracking, Clock, TrackingEvent, TrackingPushReceiver

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


BOOKING_CARRIERS = ("sf", "internal")
"""The carriers that take pickup orders (EMS and Kuaidi100 are tracked only: see their modules)."""


def build_bookers(env: Mapping[str, str], session: aiohttp.ClientSession, clock: Clock) -> dict[str, CarrierBooking]:
    """Booking clients for every carrier whose settings are configured (our own courier always)."""
    bookers: dict[str, CarrierBooking] = {"internal": InternalCourier(_no_history)}
    try:
        bookers["sf"] = SfExpress(SfSettings.from_env(env), session, clock)
    except SettingsError:
        pass
    return bookers


def build_trackers(env: Mapping[str, str], session: aiohttp.ClientSession, clock: Clock) -> dict[str, CarrierTracking]:
    """Tracking clients for every outside carrier whose settings are configured (our own courier
    reports through the courier API and needs no polling)."""
    trackers: dict[str, CarrierTracking] = {}
    for name in ("sf", "ems", "kuaidi100"):
        try:
            trackers[name] = build_tracking(name, env, session, clock)
        except SettingsError:
            continue
    return trackers


def build_push_receivers(env: Mapping[str, str], clock: Clock) -> dict[str, TrackingPushReceiver]:
    """Receivers for every carrier whose push settings are configured; others are left out (their
    callback route then answers 404)."""
    from adapters.logistics.ems import EmsPushReceiver
    from adapters.logistics.kuaidi100 import Kuaidi100PushReceiver
    from adapters.logistics.sf import SfRoutePushReceiver

    receivers: dict[str, TrackingPushReceiver] = {}
    builders: dict[str, Callable[[], TrackingPushReceiver]] = {
        "sf": lambda: SfRoutePushReceiver(SfSettings.from_env(env)),
        "kuaidi100": lambda: Kuaidi100PushReceiver(Kuaidi100Settings.from_env(env), clock),
        "ems": lambda: EmsPushReceiver(EmsSettings.from_env(env)),
    }
    for name, build in builders.items():
        try:
            receivers[name] = build()
        except SettingsError:
            continue
    return receivers
