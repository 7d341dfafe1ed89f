"""The ports: small Protocols for everything the domain and the services need from the world.

One Protocol per capability, so that an adapter implements only what it can (a tracking-only
carrier implements :class:`CarrierTracking` and nothing else). Adapters live in ``adapters/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

# --------------------------------------------------------------------------- time and calendar


class Clock(Protocol):
    """Where "now" comes from. Only services and adapters ask it; the domain takes times as input."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@runtime_checkable
class Calendar(Protocol):
    """Working days. ``covers`` is False for a date whose year no schedule describes; then
    ``is_workday`` still answers (Monday–Friday) and the clock marks its reading provisional."""

    def is_workday(self, day: date) -> bool: ...

    def covers(self, day: date) -> bool: ...


# --------------------------------------------------------------------------- SMS


class SmsStatus(StrEnum):
    """Our statuses for one SMS, whatever the provider calls them."""

    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    PERMANENT_FAILURE = "permanent_failure"
    TEMPORARY_FAILURE = "temporary_failure"
    TECHNICAL_FAILURE = "technical_failure"


@dataclass(frozen=True)
class SmsReceipt:
    """What a provider answered to one send: its message id and our status (usually SENDING)."""

    provider: str
    message_id: str
    status: SmsStatus
    raw_code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SmsDeliveryReport:
    """A provider's later word on one message (pushed to us, or pulled)."""

    provider: str
    message_id: str
    phone: str
    status: SmsStatus
    raw_code: str
    reason: str
    reported_at: datetime


class ProviderError(Exception):
    """A provider refused or could not be reached. ``status`` says what to do next: a
    TECHNICAL_FAILURE may go to the next provider, a PERMANENT_FAILURE must not be retried."""

    def __init__(self, provider: str, status: SmsStatus, raw_code: str, reason: str) -> None:
        super().__init__(f"{provider}: {raw_code} {reason}")
        self.provider = provider
        self.status = status
        self.raw_code = raw_code
        self.reason = reason


class SmsOutcomeUnknown(ProviderError):
    """The request may have reached the provider but no answer came back (a timeout, a cut
    connection, an unreadable reply): the SMS may or may not be on its way. Never retried nor
    failed over — a second SMS is worse than a late one; the provider is asked later
    (:class:`SmsStatusQuery`) by the reference we sent."""

    def __init__(self, provider: str, raw_code: str, reason: str) -> None:
        super().__init__(provider, SmsStatus.TECHNICAL_FAILURE, raw_code, reason)


class SmsSender(Protocol):
    """Sends one templated SMS. ``template_key`` is our own name (``receipt``, ``accepted``, …);
    the adapter maps it to the provider's template code. ``reference`` is our own id for this SMS,
    sent where the protocol echoes it back (Alibaba ``OutId``, Tencent ``SessionContext``) so that
    an interrupted send can be found later. Raises :class:`ProviderError`
    (:class:`SmsOutcomeUnknown` when the provider may have taken it)."""

    name: str

    async def send(
        self, phone: str, template_key: str, params: Mapping[str, str], *, reference: str = ""
    ) -> SmsReceipt: ...


class SmsStatusQuery(Protocol):
    """Asks a provider what became of one SMS whose send was cut off, found by our ``reference``
    among the messages to ``phone`` since ``sent_after``. The answer's status is DELIVERED, a
    failure, or SENDING (accepted, no final report yet); None when the provider has no record of
    it. Raises :class:`ProviderError` when the provider cannot be asked now."""

    name: str

    async def query(self, phone: str, reference: str, sent_after: datetime) -> SmsDeliveryReport | None: ...


@dataclass(frozen=True)
class InboundHttp:
    """An inbound provider callback as the API received it, for an adapter to verify and parse."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class CallbackAnswer:
    """What to answer the provider, in the form it expects."""

    status: int
    content_type: str
    body: bytes


class SmsReportReceiver(Protocol):
    """Verifies and parses a provider's delivery-report push. Raises ProviderError on a bad
    signature or body; ``answer`` is what the provider expects back on success."""

    name: str

    def parse_reports(self, request: InboundHttp) -> Sequence[SmsDeliveryReport]: ...

    def answer(self, ok: bool) -> CallbackAnswer: ...


# --------------------------------------------------------------------------- logistics


class TrackingStatus(StrEnum):
    BOOKED = "booked"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


@dataclass(frozen=True)
class PostalAddress:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    company: str = ""
    region_code: str = ""


@dataclass(frozen=True)
class BookingRequest:
    """Book a pickup for one package. ``reference`` is our package code (the carrier's order id)."""

    reference: str
    sender: PostalAddress
    receiver: PostalAddress
    description: str = "申请材料"
    parcels: int = 1
    weight_kg: float | None = None
    remark: str = ""


@dataclass(frozen=True)
class Booking:
    carrier: str
    reference: str
    waybill: str
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingEvent:
    """One normalized movement. ``raw_code`` is the carrier's own code, kept for the record."""

    carrier: str
    waybill: str
    status: TrackingStatus
    raw_code: str
    reason: str
    occurred_at: datetime
    place: str = ""
    description: str = ""


class CarrierError(Exception):
    """A carrier refused or could not be reached. ``retryable`` says whether trying again (or
    another carrier) may help."""

    def __init__(self, carrier: str, code: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{carrier}: {code} {reason}")
        self.carrier = carrier
        self.code = code
        self.reason = reason
        self.retryable = retryable


class CarrierBooking(Protocol):
    """Books and cancels pickups. Raises :class:`CarrierError`."""

    name: str

    async def book(self, request: BookingRequest) -> Booking: ...

    async def cancel(self, reference: str, waybill: str) -> None: ...


class CarrierTracking(Protocol):
    """Queries the movements of one waybill, oldest first. Raises :class:`CarrierError`."""

    name: str

    async def track(self, waybill: str, *, phone: str = "") -> Sequence[TrackingEvent]: ...


class TrackingPushReceiver(Protocol):
    """Verifies and parses a carrier's pushed tracking callback; ``answer`` is the reply the
    carrier expects. Raises :class:`CarrierError` on a bad signature or body."""

    name: str

    def parse_push(self, request: InboundHttp) -> Sequence[TrackingEvent]: ...

    def answer(self, ok: bool) -> CallbackAnswer: ...


# --------------------------------------------------------------------------- blobs


class BlobCorrupted(Exception):
    """The stored bytes of a blob no longer hash to its address: never handed out as the blob."""

    def __init__(self, sha256: str, found: str) -> None:
        super().__init__(f"blob {sha256} is corrupted: its stored bytes hash to {found}")
        self.sha256 = sha256
        self.found = found


class BlobStore(Protocol):
    """Evidence and rendered documents, addressed by the sha256 of their bytes."""

    async def put(self, data: bytes, content_type: str) -> str:
        """Store ``data``; return its sha256 hex. Storing the same bytes twice, at once or not,
        is harmless."""
        ...

    async def get(self, sha256: str) -> bytes:
        """The bytes, checked against their sha256; KeyError when absent, BlobCorrupted when
        what is stored does not hash to ``sha256``."""
        ...

    async def has(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        ...

    async def discard(self, sha256: str) -> None:
        """Remove the blob (stored for a command that did not commit); absent: nothing happens."""
        ...


# --------------------------------------------------------------------------- persistence
# The unit of work and its repositories. Implementations: adapters/db (SQLAlchemy Core on
# PostgreSQL or SQLite) and tests/fakes (in memory). Aggregates are saved explicitly; the unit of
# work remembers every aggregate it handed out and, on commit, writes their changes and their
# events (to the outbox) in one transaction.


@dataclass(frozen=True)
class Office:
    id: str
    name: str
    kind: str
    """``window`` (代收窗口) or ``department`` (审批部门)."""
    region_code: str
    lat: float
    lon: float
    address: str = ""
    phone: str = ""
    carrier: str = "internal"


class CaseRepository(Protocol):
    async def get(self, case_id: str) -> Case | None: ...

    async def add(self, case: Case) -> None: ...

    async def by_tracking_hash(self, token_hash: str) -> Case | None: ...


class PackageRepository(Protocol):
    async def get(self, package_id: str) -> Package | None: ...

    async def by_code(self, compact_code: str) -> Package | None: ...

    async def by_waybill(self, carrier: str, waybill: str) -> Package | None: ...

    async def for_case(self, case_id: str) -> Sequence[Package]: ...

    async def add(self, package: Package) -> None: ...

    async def next_sequence(self, region: str, day: date) -> int:
        """The next free daily sequence number for package codes of ``region`` on ``day``."""
        ...

    async def add_manifest(self, manifest: Manifest) -> None: ...


class MatterRepository(Protocol):
    async def get(self, matter_id: str) -> Matter | None: ...


class OfficeRepository(Protocol):
    async def get(self, office_id: str) -> Office | None: ...

    async def entrusted_department(self, region_code: str, matter_id: str) -> Office | None:
        """For 异地委托审批: the unit of the window's own region entrusted with the matter."""
        ...

    async def region_names(self) -> Mapping[str, str]:
        """Region code → name, for messages that name regions (通办范围)."""
        ...


class UnitOfWork(Protocol):
    """``async with uow:`` opens a transaction and rolls it back unless ``commit()`` was called."""

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def packages(self) -> PackageRepository: ...

    @property
    def matters(self) -> MatterRepository: ...

    @property
    def offices(self) -> OfficeRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None:
        """Save every aggregate handed out, and their events into the outbox, atomically."""
        ...

    async def rollback(self) -> None: ...


if TYPE_CHECKING:  # the aggregates import this module for Calendar; avoid the cycle at run time
    from handoff.case import Case
    from handoff.matter import Matter
    from handoff.package import Manifest, Package
