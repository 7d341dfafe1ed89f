"""The logistics consumer group: carrier pickups, tracking, stalled packages (DESIGN §4, §9).

* ``package.sealed`` for a carrier other than our own courier: book a pickup with the package's
  carrier (the sealing office's), failing over to the next configured one
  (``HANDOFF_CARRIER_FAILOVER``) when a carrier cannot be reached or refuses; then, in one go, the
  waybill goes on the package (``package.booked``, so the applicant's SMS can quote it), a
  ``shipments`` row records carrier, waybill and every attempt, and the 100×150 mm courier label is
  rendered and stored as a blob. If every carrier is down the message is retried later (with
  growing delays, then parked for an admin); if every carrier refused, ``package.booking_failed``
  tells the sending office's clerks to hand the package over themselves.
* ``package.exception`` before pickup: the carrier's order is cancelled.
* Periodically (``tick``): the tracking of every live shipment is polled (a fallback for pushes
  that did not come; each movement is applied once, by the same key as the pushes), and packages
  with no custody event for longer than allowed (default 3 working days) are announced as stalled,
  once per last movement.

A booking is an outside effect that cannot be rolled back: the carrier's order id is our package
code, so a booking repeated after a crash is refused by the carrier as a duplicate order rather
than sending a second courier; that refusal ends as ``booking_failed`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.broker.bus import Incoming, Park, RetryLater
from adapters.calendar import LiveCalendar
from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db import queries, reports
from adapters.db.repositories import ConnectionReader
from adapters.logistics.common import event_key
from handoff import events as ev
from handoff.clock import stall_boundary, working_days_between
from handoff.codes import ScanSigner
from handoff.errors import DomainError
from handoff.package import DEFAULT_STALL_DAYS, Package, PackageState
from handoff.ports import (
    BlobStore,
    Booking,
    BookingRequest,
    CarrierBooking,
    CarrierError,
    CarrierTracking,
    Clock,
    PostalAddress,
    UnitOfWork,
)
from handoff.services import ApplyTracking, AssignWaybill, Deps, dispatch
from handoff.timeutil import CHINA, local_date
from labels.courier_label import render_courier_label
from labels.from_domain import courier_label_data, party_address
from worker.announce import announce
from worker.consumer import envelope_of

log = logging.getLogger("handoff.logistics")
ACTOR = "system:logistics"
OWN_COURIER = "internal"
FINISHED_SHIPMENTS = ("delivered", "returned", "cancelled")


@dataclass(frozen=True)
class LogisticsSettings:
    failover: tuple[str, ...] = ()
    stall_days: int = DEFAULT_STALL_DAYS
    poll_minutes: float = 30.0
    tick_seconds: float = 600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LogisticsSettings:
        from adapters.sms.settings import SettingsError

        failover = tuple(p.strip() for p in env.get("HANDOFF_CARRIER_FAILOVER", "").split(",") if p.strip())
        try:
            stall = int(env.get("HANDOFF_STALLED_WORKING_DAYS", "").strip() or cls.stall_days)
            poll = float(env.get("HANDOFF_TRACKING_POLL_MINUTES", "").strip() or cls.poll_minutes)
            tick = float(env.get("HANDOFF_LOGISTICS_TICK_SECONDS", "").strip() or cls.tick_seconds)
        except ValueError as exc:
            raise SettingsError(
                "HANDOFF_STALLED_WORKING_DAYS 应为整数，"
                "HANDOFF_TRACKING_POLL_MINUTES、HANDOFF_LOGISTICS_TICK_SECONDS 应为数字"
            ) from exc
        if not 0 <= stall <= 60 or poll <= 0 or tick <= 0:
            raise SettingsError("HANDOFF_STALLED_WORKING_DAYS 应在 0–60 之间，轮询与扫描间隔必须大于 0")
        return cls(failover=failover, stall_days=stall, poll_minutes=poll, tick_seconds=tick)


@dataclass(frozen=True)
class LabelJob:
    """What the courier label of one booked package is made from."""

    package: Package
    booking: Booking
    sender: PostalAddress
    receiver: PostalAddress


LabelRenderer = Callable[[LabelJob], bytes]


def courier_labels(signer: ScanSigner, clock: Clock) -> LabelRenderer:
    """The 100×150 mm label (labels/courier_label.py) of a booked package, with its signed QR."""

    def render(job: LabelJob) -> bytes:
        package = replace(job.package, carrier=job.booking.carrier, waybill=job.booking.waybill)
        data = courier_label_data(
            package,
            sender=job.sender,
            receiver=job.receiver,
            scan_payload=signer.sign_package(package.code),
            printed_at=clock.now(),
        )
        return render_courier_label(data)

    return render


class Logistics:
    """The ``logistics`` consumer group (a :class:`worker.group.Worker`)."""

    handle_batch = None

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: IdCipher,
        calendar: LiveCalendar,
        deps: Deps,
        uow: Callable[[], UnitOfWork],
        bookers: Mapping[str, CarrierBooking],
        trackers: Mapping[str, CarrierTracking],
        blobs: BlobStore,
        label: LabelRenderer | None,
        settings: LogisticsSettings = LogisticsSettings(),
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.calendar = calendar
        self.deps = deps
        self.uow = uow
        self.bookers = bookers
        self.trackers = trackers
        self.blobs = blobs
        self.label = label
        self.settings = settings
        self.interval: float | None = settings.tick_seconds
        self.stalled_count = 0

    async def recover(self) -> None:
        return None

    async def tick(self) -> None:
        await self.poll_tracking()
        await self.announce_stalled()

    async def handle(self, message: Incoming) -> None:
        envelope = envelope_of(message)
        package_id = envelope.get("package_id")
        kind = envelope.get("type")
        if not package_id:
            return
        if kind == ev.PackageSealed.type:
            await self.book(str(package_id))
        elif kind == ev.PackageException.type:
            await self.cancel(str(package_id))

    # ------------------------------------------------------------------ booking

    def carriers_for(self, package: Package) -> list[str]:
        """The package's carrier first, then the configured failover order (``internal`` there
        means: our own courier takes it when no carrier will)."""
        return list(dict.fromkeys([package.carrier or OWN_COURIER, *self.settings.failover]))

    async def book(self, package_id: str) -> None:
        async with self.engine.connect() as conn:
            booked = (
                await conn.execute(
                    select(t.shipments.c.carrier, t.shipments.c.waybill).where(t.shipments.c.package_id == package_id)
                )
            ).first()
            reader = ConnectionReader(conn, self.cipher)
            package = await reader.packages.get(package_id)
            if package is None:
                raise Park(f"package {package_id} not found")
            case = await reader.cases.get(package.case_id)
            if case is None:
                raise Park(f"case {package.case_id} not found")
            offices = await queries.offices(conn)
            region_names = await queries.region_names(conn)
        if booked is not None:
            # booked before (a redelivery): finish what a crash may have cut short, book nothing
            if package.state is PackageState.SEALED and package.waybill is None:
                await self._put_waybill(package_id, booked[0], booked[1])
            return
        if package.state is not PackageState.SEALED or (package.carrier or OWN_COURIER) == OWN_COURIER:
            return  # our own courier scans the slip; an electronic push needs no carrier
        sender = party_address(package.from_party, case=case, offices=offices, region_names=region_names)
        receiver = party_address(package.to_party, case=case, offices=offices, region_names=region_names)
        request = BookingRequest(
            reference=package.code.compact,
            sender=sender,
            receiver=receiver,
            description="政务服务申请材料" if package.direction.value == "outbound" else "政务服务办理结果",
            remark=f"材料包 {package.code}，请勿折叠",
        )
        attempts: list[dict[str, Any]] = []
        booking: Booking | None = None
        for name in self.carriers_for(package):
            booker = self.bookers.get(name)
            if booker is None:
                attempts.append(_attempt(name, "not_configured", "未配置该承运商的下单接口", self.deps.clock.now()))
                continue
            try:
                booking = await booker.book(request)
                attempts.append(_attempt(name, "ok", booking.waybill, self.deps.clock.now()))
                break
            except CarrierError as exc:
                attempts.append(_attempt(name, exc.code, exc.reason, self.deps.clock.now(), retryable=exc.retryable))
                log.warning(
                    "carrier refused a booking",
                    extra={"package_id": package_id, "carrier": name, "code": exc.code, "retryable": exc.retryable},
                )
        if booking is None:
            if any(a.get("retryable") for a in attempts):
                raise RetryLater("; ".join(f"{a['carrier']}: {a['code']} {a['reason']}" for a in attempts))
            await self._booking_failed(package, attempts)
            return
        await self._booked(package, booking, attempts, sender, receiver)

    async def _booked(
        self,
        package: Package,
        booking: Booking,
        attempts: list[dict[str, Any]],
        sender: PostalAddress,
        receiver: PostalAddress,
    ) -> None:
        now = self.deps.clock.now()
        async with self.engine.begin() as conn:
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(
                dialect_insert(t.shipments)
                .values(
                    package_id=package.id,
                    carrier=booking.carrier,
                    waybill=booking.waybill,
                    booked_at=now,
                    status="booked",
                    last_event_at=None,
                    raw=dict(booking.raw),
                    label_sha256=None,
                    attempts=attempts,
                    polled_at=None,
                )
                .on_conflict_do_nothing()
            )
        await self._put_waybill(package.id, booking.carrier, booking.waybill)
        # The booking is recorded first: a label that fails to print must not cost a second order
        # (the API renders the label on demand when none was stored).
        if self.label is not None:
            try:
                label = await asyncio.to_thread(self.label, LabelJob(package, booking, sender, receiver))
                sha = await self.blobs.put(label, "application/pdf")
            except Exception:
                log.exception("courier label not stored", extra={"package_id": package.id})
            else:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        update(t.shipments).where(t.shipments.c.package_id == package.id).values(label_sha256=sha)
                    )
        log.info("booked", extra={"package_id": package.id, "carrier": booking.carrier, "waybill": booking.waybill})

    async def _put_waybill(self, package_id: str, carrier: str, waybill: str) -> None:
        try:
            await dispatch(
                AssignWaybill(package_id=package_id, carrier=carrier, waybill=waybill), self.uow(), self.deps
            )
        except DomainError as exc:
            # Picked up or lost meanwhile: the waybill is still the carrier's record of it.
            log.warning("waybill not put on the package", extra={"package_id": package_id, "reason": exc.title})

    async def _booking_failed(self, package: Package, attempts: list[dict[str, Any]]) -> None:
        reason = "；".join(f"{a['carrier']}：{a['reason']}" for a in attempts)
        event = ev.PackageBookingFailed(
            occurred_at=self.deps.clock.now(),
            actor=ACTOR,
            case_id=package.case_id,
            package_id=package.id,
            carriers=tuple(a["carrier"] for a in attempts),
            reason=reason[:500],
        )
        await announce(self.engine, f"booking_failed:{package.id}", event)
        log.warning("no carrier took the booking", extra={"package_id": package.id, "reason": reason})

    async def cancel(self, package_id: str) -> None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.shipments.c.carrier, t.shipments.c.waybill, t.shipments.c.status, t.packages.c.code)
                    .join(t.packages, t.packages.c.id == t.shipments.c.package_id)
                    .where(t.shipments.c.package_id == package_id)
                )
            ).first()
        if row is None or row[2] != "booked":
            return  # nothing booked, or the carrier has it already: its own tracking tells the rest
        carrier, waybill, _, code = row
        booker = self.bookers.get(carrier)
        if booker is None:
            return
        try:
            await booker.cancel(code, waybill)
        except CarrierError as exc:
            if exc.retryable:
                raise RetryLater(f"{carrier}: {exc.code} {exc.reason}") from exc
            log.warning("carrier refused to cancel", extra={"package_id": package_id, "carrier": carrier})
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.shipments).where(t.shipments.c.package_id == package_id).values(status="cancelled")
            )

    # ------------------------------------------------------------------ tracking and stalls

    async def poll_tracking(self) -> int:
        """Poll the live shipments not polled for ``poll_minutes``; returns movements applied."""
        now = self.deps.clock.now()
        cutoff = now - timedelta(minutes=self.settings.poll_minutes)
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        t.shipments.c.package_id,
                        t.shipments.c.carrier,
                        t.shipments.c.waybill,
                        t.cases.c.applicant_phone,
                    )
                    .join(t.packages, t.packages.c.id == t.shipments.c.package_id)
                    .join(t.cases, t.cases.c.id == t.packages.c.case_id)
                    .where(
                        t.shipments.c.status.not_in(FINISHED_SHIPMENTS),
                        (t.shipments.c.polled_at.is_(None)) | (t.shipments.c.polled_at < cutoff),
                    )
                )
            ).all()
        applied = 0
        for package_id, carrier, waybill, phone in rows:
            tracker = self.trackers.get(carrier)
            if tracker is None:
                continue
            try:
                movements = await tracker.track(waybill, phone=phone)
            except CarrierError as exc:
                log.warning(
                    "tracking poll failed", extra={"package_id": package_id, "carrier": carrier, "code": exc.code}
                )
                continue
            for movement in movements:
                async with self.engine.begin() as conn:
                    fresh = await queries.first_receipt(conn, f"carrier:{event_key(movement)}", carrier, now)
                if fresh:
                    await dispatch(ApplyTracking(event=movement), self.uow(), self.deps)
                    applied += 1
            values: dict[str, Any] = {"polled_at": now}
            if movements:
                values |= {"status": movements[-1].status.value, "last_event_at": movements[-1].occurred_at}
            async with self.engine.begin() as conn:
                await conn.execute(update(t.shipments).where(t.shipments.c.package_id == package_id).values(**values))
        return applied

    def moved_before(self) -> datetime:
        """A package whose last movement is older than this is stalled today."""
        today = local_date(self.deps.clock.now())
        boundary = stall_boundary(self.calendar, today, self.settings.stall_days)
        return datetime.combine(boundary, datetime.min.time(), tzinfo=CHINA)

    async def stalled(self) -> list[dict[str, Any]]:
        """Packages still on their way with no custody event for more than ``stall_days`` working days."""
        async with self.engine.connect() as conn:
            return await reports.stalled_packages(conn, self.moved_before())

    async def announce_stalled(self) -> int:
        today = local_date(self.deps.clock.now())
        rows = await self.stalled()
        self.stalled_count = len(rows)
        done = 0
        for row in rows:
            last = row["last_movement_at"]
            event = ev.PackageStalled(
                occurred_at=self.deps.clock.now(),
                actor=ACTOR,
                case_id=row["case_id"],
                package_id=row["id"],
                last_movement_at=last,
                holder=row["holder"],
                from_party=row["from_party"],
                working_days=working_days_between(self.calendar, local_date(last), today),
            )
            done += await announce(self.engine, f"stalled:{row['id']}:{last.isoformat()}", event)
        return done


def _attempt(carrier: str, code: str, reason: str, at: datetime, *, retryable: bool = False) -> dict[str, Any]:
    return {"carrier": carrier, "code": code, "reason": reason, "at": at.isoformat(), "retryable": retryable}
