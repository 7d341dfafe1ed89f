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
