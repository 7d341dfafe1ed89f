"""``internal``: our own courier (政务专递), who reports each handoff through the courier API.

There is no carrier to call: booking assigns the package's own code as the waybill (the courier
scans the slip's QR), cancelling is a no-op, and the tracking history is whatever the courier API
recorded, read through an injected lookup. ``courier_event`` normalizes one courier report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from adapters.logistics.common import TrackingTable, dedupe
from handoff.ports import Booking, BookingRequest, CarrierError, TrackingEvent, TrackingStatus

NAME = "internal"

COURIER_ACTIONS = TrackingTable(
    NAME,
    {
        "booked": (TrackingStatus.BOOKED, "已派单"),
        "picked_up": (TrackingStatus.PICKED_UP, "专递员已取件"),
        "in_transit": (TrackingStatus.IN_TRANSIT, "运送途中"),
        "out_for_delivery": (TrackingStatus.OUT_FOR_DELIVERY, "正在投递"),
        "delivered": (TrackingStatus.DELIVERED, "已送达签收"),
        "exception": (TrackingStatus.EXCEPTION, "投递异常"),
        "returned": (TrackingStatus.RETURNED, "已退回"),
    },
    fallback=(TrackingStatus.EXCEPTION, "未知的专递员动作"),
)

History = Callable[[str], Awaitable[Sequence[TrackingEvent]]]


def courier_event(waybill: str, action: str, at: datetime, place: str = "", note: str = "") -> TrackingEvent:
    if action not in COURIER_ACTIONS.rules:
        raise CarrierError(NAME, action, f"未知的专递员动作：{action}", retryable=False)
    status, reason = COURIER_ACTIONS.classify(action)
    return TrackingEvent(NAME, waybill, status, action, reason, at, place=place, description=note)


class InternalCourier:
    """CarrierBooking and CarrierTracking for our own courier."""

    name = NAME

    def __init__(self, history: History) -> None:
        self.history = history

    async def book(self, request: BookingRequest) -> Booking:
        return Booking(NAME, request.reference, request.reference)

    async def cancel(self, reference: str, waybill: str) -> None:
        return None

    async def track(self, waybill: str, *, phone: str = "") -> Sequence[TrackingEvent]:
        return dedupe(await self.history(waybill))
