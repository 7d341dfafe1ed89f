"""The Package aggregate (材料包) and its custody chain (DESIGN §4).

A package is one bundle moving one way: the application materials outbound, or the result back.
Every change of holder — and every fact about the bundle's integrity (sealing, a scan in transit,
an exception) — is a :class:`CustodyEvent`. Events are hash-chained per package: each stores the
hash of the one before it, so editing any event afterwards breaks the chain at that event, which
:func:`verify_chain` names.

A handoff is two-sided: "delivered by the courier" (``deliver``: ARRIVED) and "signed for by the
receiver" (``sign``: SIGNED) are different events by different actors; the receiver records
discrepancies per item when signing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

from handoff import events as ev
from handoff.clock import working_days_between
from handoff.codes import PackageCode
from handoff.errors import IllegalTransition, InvalidInput
from handoff.labels_zh import STATE_ZH
from handoff.ports import Calendar
from handoff.timeutil import local_date, require_aware

GENESIS_HASH = "0" * 64
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_STALL_DAYS = 3
DEFAULT_OFFLINE_MAX_DAYS = 7
"""A report made offline is accepted at most this many days after the time it was made."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far a phone's clock may run ahead of the server's (or behind the pick-up) and still count."""


class Direction(StrEnum):
    OUTBOUND = "outbound"  # application materials: window → department
    RESULT = "result"  # the decision: department → applicant or window


class Medium(StrEnum):
    PAPER = "paper"
    ELECTRONIC = "electronic"


class Purpose(StrEnum):
    """What an outbound package carries: the application's materials, or what the applicant
    brought to the window later (补正 and 容缺 materials)."""

    MATERIALS = "materials"
    SUPPLEMENT = "supplement"


class PackageState(StrEnum):
    CREATED = "created"
    SEALED = "sealed"
    WITH_COURIER = "with_courier"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    PUSHED = "pushed"
    SIGNED = "signed"
    EXCEPTION = "exception"


MOVING = frozenset(
    {PackageState.SEALED, PackageState.WITH_COURIER, PackageState.IN_TRANSIT, PackageState.ARRIVED, PackageState.PUSHED}
)


class CustodyKind(StrEnum):
    CREATED = "created"
    SEALED = "sealed"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    PUSHED = "pushed"
    SIGNED = "signed"
    EXCEPTION = "exception"


class Method(StrEnum):
    SCAN = "scan"
    COURIER_API = "courier_api"
    CARRIER_PUSH = "carrier_push"
    ELECTRONIC_PUSH = "electronic_push"
    MANUAL = "manual"


class DiscrepancyKind(StrEnum):
    MISSING = "missing"
    DAMAGED = "damaged"
    PAGES_DIFFER = "pages_differ"
    # electronic materials (an electronic package's files; seed 000: 纸质材料与电子材料不符)
    UNREADABLE = "unreadable"
    INCOMPLETE = "incomplete"
    NOT_MATCHING_PAPER = "not_matching_paper"


class ExceptionKind(StrEnum):
    DAMAGED = "damaged"
    LOST = "lost"
    REFUSED = "refused"
    OTHER = "other"


@dataclass(frozen=True)
class Item:
    """One row of Appendix A/B: 序号, 材料名称, 数量, 页数, 原件/复印件, 备注."""

    seq: int
    name: str
    copies: int = 1
    pages: int = 0
    original: bool = True
    remarks: str = ""


@dataclass(frozen=True)
class FileEntry:
    """One file of an electronic package's manifest: which item it belongs to (the package's item
    ``seq``), its name as uploaded, and the content address of the stored (checked, re-encoded)
    bytes."""

    item_seq: int
    name: str
    size: int
    sha256: str
    content_type: str = "application/pdf"
    pages: int = 1


@dataclass(frozen=True)
class Discrepancy:
    item_seq: int
    kind: DiscrepancyKind
    note: str = ""
    actual_pages: int | None = None


@dataclass(frozen=True)
class CustodyEvent:
    """One link of the chain. ``hash`` covers every other field, ``prev_hash`` included."""

    package_id: str
    seq: int
    kind: CustodyKind
    from_party: str
    to_party: str
    actor: str
    server_time: datetime
    method: Method
    client_time: datetime | None = None
    place: str = ""
    evidence: tuple[str, ...] = ()
    discrepancies: tuple[Discrepancy, ...] = ()
    note: str = ""
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    files: tuple[FileEntry, ...] = ()
    """An electronic push's manifest (item, name, size, sha256 of every file)."""

    def canonical(self) -> bytes:
        """The bytes that are hashed: every field but ``hash``, as sorted compact JSON. An event
        without files hashes as events did before manifests existed, so old chains still verify."""
        body = asdict(self)
        body.pop("hash")
        if not body["files"]:
            body.pop("files")
        return json.dumps(
            body, default=_json_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def computed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return require_aware(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value)!r}")


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(events: Sequence[CustodyEvent]) -> ChainCheck:
    """Check a package's custody chain; name the first broken link (its ``seq``) and why."""
    prev = GENESIS_HASH
    for index, event in enumerate(events, start=1):
        if event.seq != index:
            return ChainCheck(False, len(events), index, f"第 {index} 条记录的序号为 {event.seq}，记录缺失或顺序被改动")
        if event.prev_hash != prev:
            return ChainCheck(False, len(events), event.seq, f"第 {event.seq} 条记录与上一条记录不衔接")
        if event.computed_hash() != event.hash:
            return ChainCheck(False, len(events), event.seq, f"第 {event.seq} 条记录的内容被改动")
        prev = event.hash
    return ChainCheck(True, len(events))


@dataclass(frozen=True)
class Anchor:
    """What the package row records of its chain, written in the same transaction as the custody
    rows: how many events there are and the last one's hash. Deleting, adding or rewriting rows of
    the chain without also rewriting the package row then shows (DESIGN §12)."""

    length: int
    head: str

    @classmethod
    def of(cls, events: Sequence[CustodyEvent]) -> Anchor:
        return cls(len(events), events[-1].hash if events else GENESIS_HASH)


def implied_position(events: Sequence[CustodyEvent]) -> tuple[PackageState, str]:
    """The state and holder that the chain's events imply, replayed in order (the commands below
    are the only writers of both, and each leaves its event)."""
    state, holder = PackageState.CREATED, ""
    for event in events:
        kind = event.kind
        if kind is CustodyKind.CREATED:
            state, holder = PackageState.CREATED, event.to_party
        elif kind is CustodyKind.SEALED:
            state = PackageState.SEALED
        elif kind is CustodyKind.PICKED_UP:
            state, holder = PackageState.WITH_COURIER, event.to_party
        elif kind is CustodyKind.IN_TRANSIT:
            state = PackageState.IN_TRANSIT
        elif kind is CustodyKind.DELIVERED:
            if state is not PackageState.SIGNED:  # a late report after signing changes nothing
                state = PackageState.ARRIVED
        elif kind is CustodyKind.PUSHED:
            state = PackageState.PUSHED
        elif kind is CustodyKind.SIGNED:
            state, holder = PackageState.SIGNED, event.to_party
        elif kind is CustodyKind.EXCEPTION:
            state = PackageState.EXCEPTION
    return state, holder


def party_office(office_id: str) -> str:
    return f"office:{office_id}"


def party_courier(courier: str) -> str:
    return f"courier:{courier}"


APPLICANT = "applicant"


@dataclass
class Package:
    id: str
    code: PackageCode
    case_id: str
    direction: Direction
    medium: Medium
    from_party: str
    to_party: str
    items: tuple[Item, ...]
    created_at: datetime
    state: PackageState = PackageState.CREATED
    carrier: str | None = None
    waybill: str | None = None
    holder: str = ""
    custody: list[CustodyEvent] = field(default_factory=list)
    exception_kind: ExceptionKind | None = None
    version: int = 0
    purpose: Purpose = Purpose.MATERIALS
    anchor: Anchor | None = field(default=None, repr=False, compare=False)
    """The chain's length and head as the stored package row records them (None until stored)."""
    events: list[ev.Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        package_id: str,
        code: PackageCode,
        case_id: str,
        direction: Direction,
        medium: Medium,
        from_party: str,
        to_party: str,
        items: Sequence[Item],
        at: datetime,
        actor: str,
        purpose: Purpose = Purpose.MATERIALS,
    ) -> Package:
        if not items:
            raise InvalidInput("材料包至少要有一项材料")
        seqs = [i.seq for i in items]
        if sorted(seqs) != list(range(1, len(items) + 1)):
            raise InvalidInput("材料序号必须从 1 开始连续编号")
        at = require_aware(at)
        package = cls(
            id=package_id,
            code=code,
            case_id=case_id,
            direction=direction,
            medium=medium,
            from_party=from_party,
            to_party=to_party,
            items=tuple(sorted(items, key=lambda i: i.seq)),
            created_at=at,
            holder=from_party,
            purpose=purpose,
        )
        package._custody(CustodyKind.CREATED, "", from_party, actor, at, Method.MANUAL)
        package._record(
            ev.PackageCreated(
                occurred_at=at,
                actor=actor,
                code=str(code),
                direction=direction.value,
                medium=medium.value,
                from_party=from_party,
                to_party=to_party,
                items=len(items),
                purpose=purpose.value,
            )
        )
        return package

    # ------------------------------------------------------------------ commands

    def seal(self, *, at: datetime, actor: str, carrier: str | None = None) -> None:
        """封装: the slip is printed and the bundle closed; nothing may be added after."""
        self._require("seal", PackageState.CREATED)
        if self.medium is Medium.ELECTRONIC:
            self._fail("seal", "电子材料包请直接推送")
        at = require_aware(at)
        self.carrier = carrier
        self.state = PackageState.SEALED
        self._custody(CustodyKind.SEALED, self.holder, self.holder, actor, at, Method.MANUAL)
        self._record(ev.PackageSealed(occurred_at=at, actor=actor, code=str(self.code), carrier=carrier))

    def assign_waybill(self, *, carrier: str, waybill: str, at: datetime) -> None:
        """The carrier booked the pickup: remember its waybill (not a custody fact by itself: the
        package is still where it was sealed until the courier acknowledges taking it)."""
        self._require("assign_waybill", PackageState.SEALED)
        if not waybill.strip():
            raise InvalidInput("运单号不能为空")
        self.carrier = carrier
        self.waybill = waybill.strip()
        self._record(
            ev.PackageBooked(
                occurred_at=require_aware(at), actor=f"carrier:{carrier}", carrier=carrier, waybill=self.waybill
            )
        )

    def pick_up(
        self,
        *,
        courier: str,
        at: datetime,
        actor: str,
        method: Method = Method.COURIER_API,
        client_time: datetime | None = None,
        place: str = "",
        evidence: Sequence[str] = (),
        manifest_id: str | None = None,
        offline_max_days: int = DEFAULT_OFFLINE_MAX_DAYS,
    ) -> None:
        """揽收: the courier acknowledges taking the sealed package from its holder. A package
        a clerk already handed to this courier (a manifest) is acknowledged by the courier once:
        the chain then holds both sides of the handoff, and nothing else changes."""
        at = require_aware(at)
        to = party_courier(courier)
        if self.state is PackageState.WITH_COURIER and self.holder == to and manifest_id is None:
            if any(e.kind is CustodyKind.PICKED_UP and e.from_party == to for e in self.custody):
                self._fail("pick_up", "已确认揽收")
            # the courier may tap 揽收 while the clerk is still recording the hand-over: the
            # phone's time may precede the hand-over, not the sealing before it
            self._check_client_time(client_time, at, offline_max_days, method, before_handover=True)
            self._custody(
                CustodyKind.PICKED_UP, to, to, actor, at, method, client_time, place, evidence, note="快递员确认揽收"
            )
            return
        self._require("pick_up", PackageState.SEALED)
        self._check_client_time(client_time, at, offline_max_days, method)
        self._custody(
            CustodyKind.PICKED_UP,
            self.holder,
            to,
            actor,
            at,
            method,
            client_time,
            place,
            evidence,
            note=f"交接单 {manifest_id}" if manifest_id else "",
        )
        self.holder = to
        self.state = PackageState.WITH_COURIER
        self._record(ev.PackagePickedUp(occurred_at=at, actor=actor, courier=courier, manifest_id=manifest_id))

    def report_in_transit(
        self,
        *,
        at: datetime,
        actor: str,
        place: str = "",
        method: Method = Method.COURIER_API,
        client_time: datetime | None = None,
        note: str = "",
        offline_max_days: int = DEFAULT_OFFLINE_MAX_DAYS,
    ) -> None:
        """A movement on the way (a scan at a depot, a carrier's route push)."""
        self._require("report_in_transit", PackageState.WITH_COURIER, PackageState.IN_TRANSIT)
        at = require_aware(at)
        self._check_client_time(client_time, at, offline_max_days, method)
        self._custody(
            CustodyKind.IN_TRANSIT, self.holder, self.holder, actor, at, method, client_time, place, note=note
        )
        self.state = PackageState.IN_TRANSIT
        self._record(ev.PackageInTransit(occurred_at=at, actor=actor, place=place))

    def deliver(
        self,
        *,
        at: datetime,
        actor: str,
        method: Method = Method.COURIER_API,
        client_time: datetime | None = None,
        place: str = "",
        evidence: Sequence[str] = (),
        offline_max_days: int = DEFAULT_OFFLINE_MAX_DAYS,
        note: str = "",
    ) -> None:
        """The courier says it handed the package over. Until the receiver signs, the handoff is
        not complete. A courier's report that comes in after the receiver already signed (its
        phone was offline) is kept in the chain as a late report and changes nothing else — one
        per handoff, from the courier who handed it over, made (``client_time``) after its
        pick-up and before the signature."""
        at = require_aware(at)
        if self.state is PackageState.SIGNED:
            self._late_delivery(at, actor, method, client_time, place, evidence, offline_max_days)
            return
        self._require("deliver_package", PackageState.WITH_COURIER, PackageState.IN_TRANSIT)
        self._check_client_time(client_time, at, offline_max_days, method)
        self._custody(
            CustodyKind.DELIVERED,
            self.holder,
            self.to_party,
            actor,
            at,
            method,
            client_time,
            place,
            evidence,
            note=note,
        )
        self.state = PackageState.ARRIVED
        self._record(ev.PackageArrived(occurred_at=at, actor=actor, delivered_by=self.holder, to_party=self.to_party))

    def _late_delivery(
        self,
        at: datetime,
        actor: str,
        method: Method,
        client_time: datetime | None,
        place: str,
        evidence: Sequence[str],
        offline_max_days: int,
    ) -> None:
        signed = self.custody[-1]
        if signed.kind is not CustodyKind.SIGNED:
            self._fail("deliver_package", "该次交接的送达报告已登记")
        if client_time is None:
            self._fail("deliver_package", "材料包已签收；离线补报送达需要提供报告时的手机时间")
        courier = signed.from_party
        if not courier.startswith("courier:"):
            self._fail("deliver_package", "该材料包不是由快递员交付的")
        self._check_client_time(client_time, at, offline_max_days, method)
        if client_time > signed.server_time + CLOCK_SKEW:
            self._fail("deliver_package", "离线补报的送达时间晚于签收时间")
        self._custody(
            CustodyKind.DELIVERED,
            courier,
            self.holder,
            actor,
            at,
            method,
            client_time,
            place,
            evidence,
            note="离线补报：签收之后收到的送达报告",
        )

    def push(self, *, at: datetime, actor: str, files: Sequence[FileEntry] = ()) -> None:
        """电子推送: an electronic package goes to the receiver's queue, its manifest of files
        (item, name, size, sha256) recorded in the custody event."""
        self._require("push", PackageState.CREATED)
        if self.medium is not Medium.ELECTRONIC:
            self._fail("push", "纸质材料包需要封装后交快递")
        seqs = {i.seq for i in self.items}
        for f in files:
            if f.item_seq not in seqs:
                raise InvalidInput(f"材料包中没有序号为 {f.item_seq} 的材料")
            if not SHA256_RE.match(f.sha256):
                raise InvalidInput("文件引用必须是文件的 sha256")
            if f.size < 0 or f.pages < 0 or not f.name.strip():
                raise InvalidInput("文件清单的名称、大小或页数无效")
        at = require_aware(at)
        self._custody(
            CustodyKind.PUSHED,
            self.holder,
            self.to_party,
            actor,
            at,
            Method.ELECTRONIC_PUSH,
            files=tuple(sorted(files, key=lambda f: (f.item_seq, f.name, f.sha256))),
        )
        self.state = PackageState.PUSHED
        self._record(ev.PackagePushed(occurred_at=at, actor=actor, to_party=self.to_party))

    def sign(
        self,
        *,
        party: str,
        at: datetime,
        actor: str,
        discrepancies: Sequence[Discrepancy] = (),
        method: Method = Method.SCAN,
        evidence: Sequence[str] = (),
        client_time: datetime | None = None,
    ) -> None:
        """签收: the receiver acknowledges, listing what is missing, damaged or of other page
        counts. Signing a package the courier has not yet reported delivered is allowed (the
        courier's phone may be offline); the chain shows who handed it over."""
        self._require(
            "sign", PackageState.ARRIVED, PackageState.PUSHED, PackageState.WITH_COURIER, PackageState.IN_TRANSIT
        )
        if party != self.to_party:
            self._fail("sign", "只有收件方可以签收该材料包")
        checked = self._check_discrepancies(discrepancies)
        at = require_aware(at)
        self._custody(
            CustodyKind.SIGNED,
            self.holder,
            party,
            actor,
            at,
            method,
            client_time,
            evidence=evidence,
            discrepancies=checked,
        )
        self.holder = party
        self.state = PackageState.SIGNED
        self._record(
            ev.PackageSigned(occurred_at=at, actor=actor, signed_by=actor, party=party, discrepancies=len(checked))
        )

    def report_exception(self, *, kind: ExceptionKind, note: str, at: datetime, actor: str) -> None:
        """损坏、丢失、拒收: the package leaves the normal path and a person must act."""
        self._require(
            "report_exception",
            PackageState.SEALED,
            PackageState.WITH_COURIER,
            PackageState.IN_TRANSIT,
            PackageState.ARRIVED,
            PackageState.PUSHED,
        )
        if not note.strip():
            raise InvalidInput("异常说明不能为空")
        at = require_aware(at)
        self._custody(CustodyKind.EXCEPTION, self.holder, self.holder, actor, at, Method.MANUAL, note=note.strip())
        self.state = PackageState.EXCEPTION
        self.exception_kind = kind
        self._record(ev.PackageException(occurred_at=at, actor=actor, kind=kind.value, note=note.strip()))

    # ------------------------------------------------------------------ reading

    def verify(self) -> ChainCheck:
        """The chain's links (:func:`verify_chain`), then the chain against the package: its length
        and head against the anchor the package row keeps, and the state and holder the events
        imply against the package's own."""
        check = verify_chain(self.custody)
        if not check.ok:
            return check
        count = len(self.custody)
        if count == 0:
            return ChainCheck(False, 0, 1, "监管链没有任何记录")
        if self.anchor is not None:
            if count != self.anchor.length:
                return ChainCheck(
                    False,
                    count,
                    min(count, self.anchor.length) + 1,
                    f"监管链现有 {count} 条记录，材料包登记的是 {self.anchor.length} 条：记录被删除或插入",
                )
            if self.custody[-1].hash != self.anchor.head:
                return ChainCheck(False, count, count, "监管链最后一条记录的哈希与材料包登记的不符：记录被改写")
        state, holder = implied_position(self.custody)
        if state is not self.state or holder != self.holder:
            return ChainCheck(
                False,
                count,
                None,
                f"材料包登记为“{STATE_ZH.get(self.state.value, self.state.value)}”、持有方 {self.holder}，"
                f"而监管链表明应为“{STATE_ZH.get(state.value, state.value)}”、持有方 {holder}",
            )
        return check

    @property
    def files(self) -> tuple[FileEntry, ...]:
        """The manifest pushed with an electronic package (empty for paper)."""
        return next((e.files for e in self.custody if e.kind is CustodyKind.PUSHED), ())

    @property
    def last_movement_at(self) -> datetime:
        # a chain emptied behind the domain's back still reads (and verifies as broken)
        return self.custody[-1].server_time if self.custody else self.created_at

    @property
    def on_its_way(self) -> bool:
        """Not yet at the end of its journey. A package handed to the applicant (a mailed result,
        ``arrived`` with the receiver's name from the carrier or the courier's evidence) is at the
        end: the applicant signs nothing in Handoff, the delivery is the receipt."""
        return self.state in MOVING and not (self.state is PackageState.ARRIVED and self.to_party == APPLICANT)

    def is_stalled(self, calendar: Calendar, today: date, allowed_days: int = DEFAULT_STALL_DAYS) -> bool:
        """Still on its way, and no custody event for more than ``allowed_days`` working days."""
        if not self.on_its_way:
            return False
        return working_days_between(calendar, local_date(self.last_movement_at), today) > allowed_days

    def collect_events(self) -> list[ev.Event]:
        out, self.events = self.events, []
        return out

    # ------------------------------------------------------------------ internals

    def _check_client_time(
        self,
        client_time: datetime | None,
        at: datetime,
        offline_max_days: int,
        method: Method,
        *,
        before_handover: bool = False,
    ) -> None:
        """A time reported by a phone (made offline, sent later) must be believable: not ahead of
        the server beyond a small clock skew, not older than the offline window, and not before the
        package came into the reporter's hands (its last pick-up). A carrier's own event time is
        its record, kept as it comes."""
        if client_time is None or method is Method.CARRIER_PUSH:
            return
        client_time = require_aware(client_time, "客户端时间")
        if client_time > at + CLOCK_SKEW:
            raise InvalidInput("客户端时间晚于服务器时间，请校准手机时间")
        if at - client_time > timedelta(days=offline_max_days):
            raise InvalidInput(f"离线记录超过 {offline_max_days} 天，不能补报，请联系收件单位人工登记")
        picked = [e for e in self.custody if e.kind is CustodyKind.PICKED_UP]
        if before_handover and picked:
            earlier = self.custody[: picked[-1].seq - 1]
            since = earlier[-1].server_time if earlier else picked[-1].server_time
        else:
            since = (picked[-1].client_time or picked[-1].server_time) if picked else self.custody[-1].server_time
        if client_time < since - CLOCK_SKEW:
            raise InvalidInput("客户端时间早于揽收时间，请校准手机时间")

    def _check_discrepancies(self, discrepancies: Sequence[Discrepancy]) -> tuple[Discrepancy, ...]:
        seqs = {i.seq: i for i in self.items}
        seen: set[tuple[int, DiscrepancyKind]] = set()
        for d in discrepancies:
            if d.item_seq not in seqs:
                raise InvalidInput(f"材料包中没有序号为 {d.item_seq} 的材料")
            if (d.item_seq, d.kind) in seen:
                raise InvalidInput(f"序号 {d.item_seq} 的同一差异登记了两次")
            seen.add((d.item_seq, d.kind))
            if d.kind is DiscrepancyKind.PAGES_DIFFER:
                if d.actual_pages is None or d.actual_pages < 0:
                    raise InvalidInput(f"序号 {d.item_seq}：页数不符必须填写实收页数")
                if d.actual_pages == seqs[d.item_seq].pages:
                    raise InvalidInput(f"序号 {d.item_seq}：实收页数与清单相同，不是差异")
        return tuple(sorted(discrepancies, key=lambda d: (d.item_seq, d.kind.value)))

    def _custody(
        self,
        kind: CustodyKind,
        from_party: str,
        to_party: str,
        actor: str,
        at: datetime,
        method: Method,
        client_time: datetime | None = None,
        place: str = "",
        evidence: Sequence[str] = (),
        discrepancies: tuple[Discrepancy, ...] = (),
        note: str = "",
        files: tuple[FileEntry, ...] = (),
    ) -> CustodyEvent:
        for ref in evidence:
            if not SHA256_RE.match(ref):
                raise InvalidInput("凭证引用必须是文件的 sha256")
        event = CustodyEvent(
            package_id=self.id,
            seq=len(self.custody) + 1,
            kind=kind,
            from_party=from_party,
            to_party=to_party,
            actor=actor,
            server_time=require_aware(at),
            method=method,
            client_time=require_aware(client_time, "客户端时间") if client_time else None,
            place=place.strip(),
            evidence=tuple(evidence),
            discrepancies=discrepancies,
            note=note,
            prev_hash=self.custody[-1].hash if self.custody else GENESIS_HASH,
            files=files,
        )
        event = replace(event, hash=event.computed_hash())
        self.custody.append(event)
        return event

    def _record(self, event: ev.Event) -> None:
        self.version += 1
        self.events.append(replace(event, case_id=self.case_id, package_id=self.id))

    def _require(self, command: str, *states: PackageState) -> None:
        if self.state not in states:
            raise IllegalTransition("package", self.state.value, command)

    def _fail(self, command: str, why: str = "") -> NoReturn:
        raise IllegalTransition("package", self.state.value, command, why)


@dataclass(frozen=True)
class Manifest:
    """交接单: many packages handed to one courier at once, under one QR."""

    id: str
    office_id: str
    courier: str
    package_ids: tuple[str, ...]
    created_at: datetime


def hand_over_batch(
    packages: Sequence[Package], *, manifest_id: str, office_id: str, courier: str, at: datetime, actor: str
) -> Manifest:
    """The courier picks up every package of the batch; all or none (checked before any changes)."""
    if not packages:
        raise InvalidInput("交接单至少要有一个材料包")
    holder = party_office(office_id)
    for package in packages:
        if package.state is not PackageState.SEALED:
            raise IllegalTransition("package", package.state.value, "pick_up", f"材料包 {package.code} 未封装或已交出")
        if package.holder != holder:
            raise InvalidInput(f"材料包 {package.code} 不在本单位")
    if len({p.id for p in packages}) != len(packages):
        raise InvalidInput("同一材料包在交接单中出现两次")
    for package in packages:
        package.pick_up(courier=courier, at=at, actor=actor, method=Method.SCAN, manifest_id=manifest_id)
    return Manifest(
        id=manifest_id, office_id=office_id, courier=courier, package_ids=tuple(p.id for p in packages), created_at=at
    )
