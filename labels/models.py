"""What each document needs, as plain frozen data (the API and workers fill it from the
aggregates; labels/samples.py has realistic examples). Strings are ready to print."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MaterialRow:
    name: str
    copies: int
    pages: int
    remarks: str = ""
    original: bool | None = None
    """原件 (True) or 复印件 (False), printed in its own column on the transfer slip; None: not said."""


@dataclass(frozen=True)
class RequirementRow:
    """One item a decision asks for: the material, and what is required of it (original or
    copy, copies, the matter's notes), or its due date."""

    name: str
    requirement: str = ""


@dataclass(frozen=True)
class ReceiptNoticeData:
    """Appendix A 申请材料接收通知书."""

    applicant_name: str
    matter_name: str
    deciding_unit: str
    materials: tuple[MaterialRow, ...]
    contact_phone: str
    address: str
    receiving_unit: str
    date_text: str
    tracking_url: str
    case_no: str


@dataclass(frozen=True)
class TransferSlipData:
    """Appendix B 申请材料转办单."""

    package_code: str
    scan_payload: str
    matter_name: str
    deciding_unit: str
    materials: tuple[MaterialRow, ...]
    applicant_name: str
    contact_phone: str
    address: str
    receiving_unit: str
    sending_unit: str
    date_text: str
    case_no: str = ""
    """受理编号 of the case the package carries."""
    owed: tuple[RequirementRow, ...] = ()
    """容缺 items still owed when the slip is printed, each with its due date."""


@dataclass(frozen=True)
class LedgerRow:
    """One line of Appendix C 事项办理台账."""

    handled_at: str
    department: str
    matter_name: str
    quantity: int
    case_kind: str
    applicant_name: str
    contact_phone: str
    window: str
    clerk: str
    status: str
    remarks: str = ""


@dataclass(frozen=True)
class CheckpointStamp:
    """A signed custody checkpoint in short form (DESIGN §12), for a document's footer: paper
    held outside the system then pins the history it covered."""

    n: int
    root: str
    """The Merkle root, hex."""
    signature: str
    """The Ed25519 signature, hex."""
    made_text: str

    def text(self) -> str:
        return f"存证检查点 No.{self.n}　根 {self.root[:16]}　签名 {self.signature[:16]}　{self.made_text}"


@dataclass(frozen=True)
class LedgerData:
    """Appendix C: the window's ledger over a period."""

    unit: str
    period_text: str
    rows: tuple[LedgerRow, ...]
    printed_text: str
    checkpoint: CheckpointStamp | None = None
    """The newest custody checkpoint, printed in the footer of every page."""


@dataclass(frozen=True)
class StageRow:
    """One of the four standard stages of Appendix D (收件, 流转, 办理, 送达)."""

    name: str
    received_text: str
    finished_text: str
    opinion: str
    responsible: str
    """The unit and the person, on two lines (``unit\nname``) or one."""


@dataclass(frozen=True)
class SpecialStageRow:
    """One special stage (勘验, 专家评审, 整改, …), not counted in the promised limit."""

    name: str
    started_text: str
    ended_text: str
    working_days: int
    reason: str
    responsible: str


@dataclass(frozen=True)
class SupplementRow:
    """One 补正 of a case: what was asked, when, by when, and when it was supplied."""

    items: str
    requested_text: str
    due_text: str
    supplied_text: str
    """When the applicant supplied it, or why not (未补正, 待补正)."""
    stage: str
    """受理前 or 受理后 (a special stage, not counted in the promised limit)."""


@dataclass(frozen=True)
class RegistrationCardData:
    """Appendix D 审批流程登记卡, filed with the materials after the decision."""

    matter_name: str
    applicant_name: str
    contact_name: str
    contact_phone: str
    case_no: str
    promised_text: str
    accepted_text: str
    stages: tuple[StageRow, ...]
    special_stages: tuple[SpecialStageRow, ...]
    used_text: str
    unit: str
    supplements: tuple[SupplementRow, ...] = ()


@dataclass(frozen=True)
class StageNoticeData:
    """特别程序告知书 (行政许可法 §45 for an excluded stage, §42 for an extension): the written
    notice of a special stage or an extension, with the applicant's tracking QR."""

    notice_no: str
    applicant_name: str
    matter_name: str
    case_no: str
    accepted_text: str
    is_extension: bool
    stage_name: str
    reason: str
    legal_basis: str
    started_text: str
    expected_text: str
    promised_text: str
    due_text: str
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str


@dataclass(frozen=True)
class CourierLabelData:
    """A 100×150 mm courier label: the waybill as Code128, both addresses, the package code."""

    carrier_name: str
    waybill_no: str
    service_text: str
    sender_name: str
    sender_phone: str
    sender_address: str
    receiver_name: str
    receiver_phone: str
    receiver_address: str
    package_code: str
    scan_payload: str
    contents_text: str
    printed_text: str


@dataclass(frozen=True)
class ManifestRow:
    package_code: str
    case_no: str
    matter_name: str
    applicant_name: str
    items: int
    pages: int
    remarks: str = ""


@dataclass(frozen=True)
class ManifestData:
    """材料交接单: many packages handed over together, under one QR for the whole batch."""

    batch_no: str
    scan_payload: str
    from_unit: str
    to_unit: str
    carrier_text: str
    rows: tuple[ManifestRow, ...]
    date_text: str
    checkpoint: CheckpointStamp | None = None
    """The newest custody checkpoint, printed in the footer of every page."""


@dataclass(frozen=True)
class PickupReceiptData:
    """发放登记: the result handed to the applicant or an agent, whose ID is printed masked."""

    case_no: str
    matter_name: str
    applicant_name: str
    result_name: str
    result_copies: int
    receiver_name: str
    receiver_relation: str
    receiver_id_type: str
    receiver_id_masked: str
    receiver_phone_masked: str
    window: str
    clerk: str
    picked_up_text: str
    package_code: str
    """The result package's code, printed with its QR; empty when the result was handed over
    without a package (picked up at the department that decided)."""
    scan_payload: str
    method: str = "窗口现场领取"
    """领取方式, in Chinese."""
    note: str = ""
    """The clerk's 意见 recorded with the 发放登记 (empty when none)."""


@dataclass(frozen=True)
class CustodyRow:
    """One custody event as the custody report prints it."""

    seq: int
    time_text: str
    kind: str
    parties: str
    """``交出方 → 接收方``."""
    actor: str
    method: str
    place: str
    client_time_text: str
    discrepancies: str
    evidence: str
    """Evidence files by the first characters of their sha256."""
    hash_short: str


@dataclass(frozen=True)
class CustodyReportData:
    """监管链报告: one package's chain of custody with its hashes, the result of verifying it, and
    the signed checkpoint that covers it."""

    package_code: str
    case_no: str
    matter_name: str
    direction_text: str
    route_text: str
    state_text: str
    holder_text: str
    rows: tuple[CustodyRow, ...]
    verified: bool
    verification_text: str
    head_hash: str
    checkpoint: CheckpointStamp | None
    checkpoint_text: str
    printed_text: str


# =========================================================================== written decisions


@dataclass(frozen=True)
class OneTimeNoticeData:
    """一次性告知书 (行政许可法 §32 (四)): everything missing at the window, listed at once. Nothing
    is registered, so it has no case number and no tracking link unless a case exists."""

    applicant_name: str
    matter_name: str
    deciding_unit: str
    missing: tuple[RequirementRow, ...]
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str = ""


@dataclass(frozen=True)
class SupplementNoticeData:
    """补正告知书: the items of one supplement request and the date they are due."""

    notice_no: str
    applicant_name: str
    matter_name: str
    case_no: str
    received_text: str
    items: tuple[RequirementRow, ...]
    due_text: str
    after_acceptance: bool
    """Asked after acceptance: a special stage that the promised limit does not count."""
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str


@dataclass(frozen=True)
class IouReceiptData:
    """容缺受理凭证: the case was taken in with items missing; each is owed by its due date."""

    notice_no: str
    applicant_name: str
    matter_name: str
    case_no: str
    deciding_unit: str
    collected_text: str
    items: tuple[RequirementRow, ...]
    """Each 容缺 item, its ``requirement`` the due date (or that it came)."""
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str


@dataclass(frozen=True)
class AcceptanceNoticeData:
    """受理通知书: the application is accepted; the promised limit and the date it ends."""

    notice_no: str
    applicant_name: str
    matter_name: str
    case_no: str
    received_text: str
    accepted_text: str
    promised_text: str
    due_text: str
    delivery_text: str
    owed: tuple[RequirementRow, ...]
    """容缺 items still owed when accepted, with their due dates."""
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str


@dataclass(frozen=True)
class RefusalData:
    """What 不予受理决定书 and 不予许可决定书 both say: the reason, the legal basis, and the
    applicant's rights to 行政复议 (60 days) and 行政诉讼 (6 months) with the bodies named."""

    decision_no: str
    applicant_name: str
    matter_name: str
    case_no: str
    applied_text: str
    reason: str
    legal_basis: str
    review_body: str
    court: str
    unit: str
    contact_phone: str
    date_text: str
    tracking_url: str


@dataclass(frozen=True)
class RejectionDecisionData(RefusalData):
    """不予受理决定书 (行政许可法 §32): the application is not accepted; the materials go back."""


@dataclass(frozen=True)
class DenialDecisionData(RefusalData):
    """不予许可决定书 (行政许可法 §38 第二款): the permit is refused after review."""
