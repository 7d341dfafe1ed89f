"""Sample data of the seeds' world, for `handoff render --sample` (checking a printer) and tests.
The scan key below is a SAMPLE key: payloads it signs are refused by any real deployment."""

from __future__ import annotations

from datetime import date

from handoff.codes import KeyRing, PackageCode, ScanSigner, TrackingTokens
from labels.models import MaterialRow, ReceiptNoticeData, TransferSlipData

SAMPLE_SIGNER = ScanSigner(KeyRing({"S1": b"sample-scan-key-not-for-real-use"}), "https://zw.swgov.cn")
SAMPLE_TRACKING = TrackingTokens(b"sample-tracking-key-not-for-real!")
SAMPLE_CODE = PackageCode("441581", date(2026, 3, 2), 7)

LIGHTNING = (
    MaterialRow("《防雷装置竣工验收申请书》", 1, 3, "加盖公章"),
    MaterialRow("防雷装置竣工图纸", 2, 12, "加盖施工单位竣工图章并在相应位置签字"),
    MaterialRow("施工单位的资质证", 1, 2, "复印件，核对原件，加盖施工单位公章（容缺，3 月 9 日前补交）"),
    MaterialRow("授权委托书", 1, 1, "加盖公章"),
)


def receipt_notice() -> ReceiptNoticeData:
    return ReceiptNoticeData(
        applicant_name="张小三",
        matter_name="防雷装置竣工验收",
        deciding_unit="汕尾市气象局",
        materials=LIGHTNING,
        contact_phone="138****5678",
        address="汕尾市陆丰市东海街道人民路 1 号",
        receiving_unit="陆丰市政务服务中心市域通办窗口",
        date_text="2026 年 3 月 2 日",
        tracking_url=f"https://zw.swgov.cn/t/{SAMPLE_TRACKING.token_for('sample-case')}",
        case_no=str(SAMPLE_CODE),
    )


def transfer_slip() -> TransferSlipData:
    return TransferSlipData(
        package_code=str(SAMPLE_CODE),
        scan_payload=SAMPLE_SIGNER.sign_package(SAMPLE_CODE),
        matter_name="防雷装置竣工验收",
        deciding_unit="汕尾市气象局",
        materials=LIGHTNING,
        applicant_name="张小三",
        contact_phone="138****5678",
        address="汕尾市陆丰市东海街道人民路 1 号",
        receiving_unit="汕尾市气象局",
        sending_unit="陆丰市政务服务中心市域通办窗口",
        date_text="2026 年 3 月 2 日",
    )
