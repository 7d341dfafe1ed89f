"""Sample data of the seeds' world, for `handoff render --sample` (checking a printer) and tests.
The scan key below is a SAMPLE key: payloads it signs are refused by any real deployment."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime

from handoff.codes import KeyRing, PackageCode, PayloadKind, ScanSigner, TrackingTokens
from handoff.custody import Checkpoint, Leaf, merkle_root
from handoff.labels_zh import CASE_KIND_ZH, STAGE_TYPE_ZH, STATE_ZH
from handoff.package import Direction, Discrepancy, DiscrepancyKind, Item, Medium, Package, hand_over_batch
from handoff.privacy import mask_id_number, mask_phone
from labels.models import (
    AcceptanceNoticeData,
    CheckpointStamp,
    CourierLabelData,
    CustodyReportData,
    DenialDecisionData,
    IouReceiptData,
    LedgerData,
    LedgerRow,
    ManifestData,
    ManifestRow,
    MaterialRow,
    OneTimeNoticeData,
    PickupReceiptData,
    ReceiptNoticeData,
    RegistrationCardData,
    RejectionDecisionData,
    RequirementRow,
    SpecialStageRow,
    StageNoticeData,
    StageRow,
    SupplementNoticeData,
    SupplementRow,
    TransferSlipData,
)

# SAMPLE keys, published in the source: never configure them in a deployment.
SAMPLE_SIGNER = ScanSigner(KeyRing({"S1": b"sample-scan-key-not-for-real-use"}), "https://zw.swgov.cn")
SAMPLE_TRACKING = TrackingTokens(b"sample-tracking-key-not-for-real!")
SAMPLE_CODE = PackageCode("441581", date(2026, 3, 2), 7)
SAMPLE_CHECKPOINT = Checkpoint(
    n=27,
    made_at=datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
    root=merkle_root([Leaf("sample-package", 6, hashlib.sha256(b"sample head").hexdigest())]),
    count=1,
    prev_hash=hashlib.sha256(b"sample checkpoint 26").hexdigest(),
    signature=hashlib.sha512(b"SAMPLE signature, verifies nothing").digest(),
    public_key=hashlib.sha256(b"SAMPLE public key").digest(),
)
"""A made-up checkpoint (its signature is not one): documents print it in their footer."""
SAMPLE_STAMP = CheckpointStamp(
    n=SAMPLE_CHECKPOINT.n,
    root=SAMPLE_CHECKPOINT.root,
    signature=SAMPLE_CHECKPOINT.signature.hex(),
    made_text="2026-03-03 00:00",
)

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
        materials=(
            MaterialRow("《防雷装置竣工验收申请书》", 1, 3, "加盖公章", original=True),
            MaterialRow("防雷装置竣工图纸", 2, 12, "加盖施工单位竣工图章并在相应位置签字", original=True),
            MaterialRow("授权委托书", 1, 1, "加盖公章", original=True),
            MaterialRow("受托人身份证", 1, 1, "已核对原件", original=False),
        ),
        applicant_name="张小三",
        contact_phone="13812345678",  # internal paper: in full
        address="汕尾市陆丰市东海街道人民路 1 号",
        receiving_unit="汕尾市气象局",
        sending_unit="陆丰市政务服务中心市域通办窗口",
        date_text="2026 年 3 月 2 日",
        case_no=str(SAMPLE_CODE),
        owed=(RequirementRow("施工单位的资质证", "2026 年 3 月 9 日前补交"),),
    )


# A 20-working-day matter with an expert review (专家评审), for the card and the written notice.
EIA_MATTER = "建设项目环境影响报告表审批"
EIA_UNIT = "汕尾市生态环境局海丰分局"
EIA_CASE = "441521-20260304-0012"


def registration_card() -> RegistrationCardData:
    return RegistrationCardData(
        matter_name=EIA_MATTER,
        applicant_name="汕尾市海丰县联安镇红海湾新材料科技有限公司（年产 3000 吨环保型涂料建设项目）",
        contact_name="陈志明",
        contact_phone="13923456789",  # internal paper: in full
        case_no=EIA_CASE,
        promised_text="20 个工作日（法定 60 个工作日）",
        accepted_text="2026-03-04 10:15",
        stages=(
            StageRow(
                "收件",
                "2026-03-03 09:40",
                "2026-03-03 10:05",
                "材料齐全，符合法定形式，同意收件",
                "海丰县政务服务中心 林晓",
            ),
            StageRow(
                "流转",
                "2026-03-03 10:05",
                "2026-03-04 09:20",
                "电子材料推送，纸质材料 EMS 寄递，已签收",
                "海丰县政务服务中心 林晓",
            ),
            StageRow("办理", "2026-03-04 10:15", "2026-04-08 16:30", "经专家评审及审查，准予批复", "审批股 黄建华"),
            StageRow("送达", "2026-04-09 09:00", "2026-04-10 15:12", "批复文件邮寄送达申请人，已签收", "审批股 黄建华"),
        ),
        special_stages=(
            SpecialStageRow(
                STAGE_TYPE_ZH["expert_review"],
                "2026-03-10",
                "2026-03-19",
                7,
                "报告表涉及挥发性有机物排放，组织 3 名专家技术评审；评审通过",
                "审批股 黄建华",
            ),
        ),
        used_text="实际用时 17 个工作日（不含特殊环节），承诺 20 个工作日，提前 3 个工作日办结。",
        unit=EIA_UNIT,
        supplements=(
            SupplementRow(
                "挥发性有机物排放量核算说明、废气处理设施设计方案",
                "2026-03-20 15:10",
                "2026-03-27",
                "2026-03-25 10:30",
                "受理后（特殊环节）",
            ),
        ),
    )


def stage_notice() -> StageNoticeData:
    return StageNoticeData(
        notice_no="海环告〔2026〕第 0031 号",
        applicant_name="汕尾市海丰县联安镇红海湾新材料科技有限公司",
        matter_name=EIA_MATTER,
        case_no=EIA_CASE,
        accepted_text="2026 年 3 月 4 日",
        is_extension=False,
        stage_name=STAGE_TYPE_ZH["expert_review"],
        reason="报告表涉及挥发性有机物排放，需组织专家进行技术评审",
        legal_basis="《中华人民共和国行政许可法》第四十五条",
        started_text="2026 年 3 月 10 日",
        expected_text="不超过 10 个工作日（评审结束后书面告知实际用时）",
        promised_text="20 个工作日（专家评审时间不计算在内）",
        due_text="2026 年 4 月 1 日（如专家评审按期结束；以评审实际结束时间重新计算）",
        unit=EIA_UNIT,
        contact_phone="0660-6812345",
        date_text="2026 年 3 月 10 日",
        tracking_url=f"https://zw.swgov.cn/t/{SAMPLE_TRACKING.token_for('sample-eia-case')}",
    )


def courier_label() -> CourierLabelData:
    return CourierLabelData(
        carrier_name="中国邮政 EMS",
        waybill_no="1187654321098",
        service_text="政务专递 标准快递",
        sender_name="陆丰市政务服务中心市域通办窗口",
        sender_phone="0660-8812345",
        sender_address="广东省汕尾市陆丰市东海街道人民路 1 号 陆丰市政务服务中心一楼 12 号窗口",
        receiver_name="汕尾市气象局 政务服务窗口",
        receiver_phone="0660-3312121",
        receiver_address="广东省汕尾市城区汕尾大道中段汕尾市行政服务中心三楼 气象局窗口（防雷装置竣工验收）",
        package_code=str(SAMPLE_CODE),
        scan_payload=SAMPLE_SIGNER.sign_package(SAMPLE_CODE),
        contents_text="申请材料 4 项 18 页（纸质）",
        printed_text="2026-03-02 15:40",
    )


MANIFEST_BATCH = "B441581202603020001"
_REGIONS = ("441502", "441521", "441523", "441581")
_MATTERS = (
    ("防雷装置竣工验收", "张小三"),
    ("建设项目环境影响报告表审批", "汕尾市海丰县联安镇红海湾新材料科技有限公司"),
    ("食品经营许可（新办）", "陆河县河田镇老街早餐店"),
    ("道路运输经营许可证核发（货运）", "汕尾市城区顺达物流有限公司"),
    ("医疗机构执业登记", "陆丰市东海街道康宁诊所"),
)


def manifest() -> ManifestData:
    rows = []
    for n in range(1, 13):
        code = PackageCode("441581", date(2026, 3, 2), n)
        matter, applicant = _MATTERS[n % len(_MATTERS)]
        rows.append(
            ManifestRow(
                package_code=str(code),
                case_no=f"{_REGIONS[n % 4]}-20260302-{n:04d}",
                matter_name=matter,
                applicant_name=applicant,
                items=2 + n % 4,
                pages=6 + 3 * n,
                remarks="含容缺承诺书" if n % 5 == 0 else "",
            )
        )
    return ManifestData(
        batch_no="B-441581-20260302-0001",
        scan_payload=SAMPLE_SIGNER.sign(PayloadKind.MANIFEST, MANIFEST_BATCH),
        from_unit="陆丰市政务服务中心市域通办窗口",
        to_unit="汕尾市政务服务中心（市直部门收件岗）",
        carrier_text="中国邮政 EMS 政务专递，运单号 1187654321098",
        rows=tuple(rows),
        date_text="2026-03-02 16:00",
        checkpoint=SAMPLE_STAMP,
    )


def pickup_receipt() -> PickupReceiptData:
    result = PackageCode("441500", date(2026, 3, 20), 3)
    return PickupReceiptData(
        case_no="441581-20260302-0007",
        matter_name="防雷装置竣工验收",
        applicant_name="张小三",
        result_name="防雷装置验收意见书",
        result_copies=1,
        receiver_name="李四",
        receiver_relation="受托人（持授权委托书）",
        receiver_id_type="居民身份证",
        receiver_id_masked=mask_id_number("441581199001011234"),
        receiver_phone_masked=mask_phone("13712345678"),
        window="陆丰市政务服务中心市域通办窗口 12 号",
        clerk="郑敏",
        picked_up_text="2026-03-23 10:42",
        package_code=str(result),
        scan_payload=SAMPLE_SIGNER.sign_package(result),
    )


def ledger(rows: int = 36) -> LedgerData:
    """A month of a window's ledger: enough rows to run over several landscape pages."""
    clerks = ("郑敏", "林晓", "黄建华", "陈丽")
    states = ("forwarded", "accepted", "in_review", "decided", "delivered", "supplement_requested")
    lines = []
    for n in range(1, rows + 1):
        matter, applicant = _MATTERS[n % len(_MATTERS)]
        kind = "instant" if n % 7 == 0 else "promised"
        lines.append(
            LedgerRow(
                handled_at=f"2026-03-{1 + n % 28:02d} {9 + n % 8:02d}:{(n * 13) % 60:02d}",
                department=("气象局", "生态环境局", "市场监督管理局", "交通运输局", "卫生健康局")[n % 5],
                matter_name=matter,
                quantity=2 + n % 4,
                case_kind=CASE_KIND_ZH[kind],
                applicant_name=applicant,
                contact_phone=mask_phone(f"139{n:08d}"),
                window="陆丰市政务服务中心市域通办窗口",
                clerk=clerks[n % 4],
                status=STATE_ZH[states[n % len(states)]],
                remarks="容缺受理，3 日内补交" if n % 9 == 0 else "",
            )
        )
    return LedgerData(
        unit="陆丰市政务服务中心市域通办窗口",
        period_text="2026 年 3 月",
        rows=tuple(lines),
        printed_text="2026-04-01 08:30",
        checkpoint=SAMPLE_STAMP,
    )


def _china(day: int, hour: int, minute: int = 0) -> datetime:
    from handoff.timeutil import CHINA

    return datetime(2026, 3, day, hour, minute, tzinfo=CHINA)


def custody_package() -> Package:
    """An outbound package that went window → courier → department, signed with a discrepancy."""
    package = Package.create(
        package_id="pkg-sample-7",
        code=SAMPLE_CODE,
        case_id="case-sample-7",
        direction=Direction.OUTBOUND,
        medium=Medium.PAPER,
        from_party="office:win-441581",
        to_party="office:dept-441500-qx",
        items=tuple(Item(n, r.name, r.copies, r.pages) for n, r in enumerate(LIGHTNING, start=1)),
        at=_china(2, 9, 30),
        actor="clerk-lf",
    )
    package.seal(at=_china(2, 10, 5), actor="clerk-lf", carrier="internal")
    hand_over_batch(
        [package],
        manifest_id="B-441581-20260302-0001",
        office_id="win-441581",
        courier="courier-07",
        at=_china(2, 14),
        actor="clerk-lf",
    )
    photo = hashlib.sha256(b"sample signature photo").hexdigest()
    package.report_in_transit(at=_china(2, 16, 40), actor="courier-07", place="汕尾市城区中转站")
    package.deliver(
        at=_china(3, 9, 12),
        actor="courier-07",
        client_time=_china(3, 9, 5),
        place="汕尾市政务服务中心收件岗",
        evidence=[photo],
    )
    package.sign(
        party="office:dept-441500-qx",
        at=_china(3, 9, 20),
        actor="dept-qx",
        discrepancies=[Discrepancy(2, DiscrepancyKind.PAGES_DIFFER, "第 2 册缺 1 页", actual_pages=11)],
    )
    return package


def custody_report() -> CustodyReportData:
    from handoff.ports import Office
    from labels.from_domain import custody_report_data

    offices = {
        "win-441581": Office("win-441581", "陆丰市政务服务中心市域通办窗口", "window", "441581", 22.95, 115.64),
        "dept-441500-qx": Office("dept-441500-qx", "汕尾市气象局", "department", "441500", 22.78, 115.37),
    }
    names = {"clerk-lf": "陈晓红", "courier-07": "吴海波", "dept-qx": "周敏"}
    data = custody_report_data(
        custody_package(),
        case=None,
        offices=offices,
        names=names,
        problem=None,
        checkpoint=SAMPLE_CHECKPOINT,
        printed_at=_china(4, 8, 30),
    )
    return replace(data, case_no="441581-20260302-0007", matter_name="防雷装置竣工验收")


# =========================================================================== written decisions

WINDOW = "陆丰市政务服务中心市域通办窗口"
WINDOW_PHONE = "0660-8812345"
LIGHTNING_UNIT = "汕尾市气象局"
LIGHTNING_CASE = "441581-20260302-0007-5"
LIGHTNING_URL = f"https://zw.swgov.cn/t/{SAMPLE_TRACKING.token_for('sample-case')}"
PLANNING_MATTER = "建设工程规划许可证核发"
PLANNING_UNIT = "汕尾市住房和城乡建设局"
PLANNING_CASE = "441502-20260305-0003-8"
PLANNING_URL = f"https://zw.swgov.cn/t/{SAMPLE_TRACKING.token_for('sample-planning-case')}"


def one_time_notice() -> OneTimeNoticeData:
    return OneTimeNoticeData(
        applicant_name="张小三",
        matter_name="防雷装置竣工验收",
        deciding_unit=LIGHTNING_UNIT,
        missing=(
            RequirementRow("《防雷装置竣工验收申请书》", "原件 1 份，加盖公章"),
            RequirementRow("防雷装置竣工图纸", "原件 2 份，加盖施工单位竣工图章并在相应位置签字"),
            RequirementRow("施工单位的资质证（该材料不可容缺）", "复印件 1 份，核对原件，加盖施工单位公章"),
        ),
        unit=WINDOW,
        contact_phone=WINDOW_PHONE,
        date_text="2026 年 3 月 2 日",
    )


def iou_receipt() -> IouReceiptData:
    return IouReceiptData(
        notice_no=f"{LIGHTNING_CASE}-容",
        applicant_name="张小三",
        matter_name="防雷装置竣工验收",
        case_no=LIGHTNING_CASE,
        deciding_unit=LIGHTNING_UNIT,
        collected_text="2026 年 3 月 2 日",
        items=(
            RequirementRow("施工单位的资质证", "2026 年 3 月 9 日前补交"),
            RequirementRow("授权委托书", "2026 年 3 月 9 日前补交"),
        ),
        unit=WINDOW,
        contact_phone=WINDOW_PHONE,
        date_text="2026 年 3 月 2 日",
        tracking_url=LIGHTNING_URL,
    )


def supplement_notice() -> SupplementNoticeData:
    return SupplementNoticeData(
        notice_no=f"{PLANNING_CASE}-补1",
        applicant_name="汕尾市城区香洲置业有限公司",
        matter_name=PLANNING_MATTER,
        case_no=PLANNING_CASE,
        received_text="2026 年 3 月 5 日",
        items=(
            RequirementRow("建设工程设计方案", "总平面图缺少消防车道及登高场地的标注，请补充后加盖设计单位出图章"),
            RequirementRow("土地权属证明", "提交不动产权证书原件核对，复印件 1 份"),
        ),
        due_text="2026 年 3 月 20 日",
        after_acceptance=False,
        unit=PLANNING_UNIT,
        contact_phone="0660-3212345",
        date_text="2026 年 3 月 6 日",
        tracking_url=PLANNING_URL,
    )


def acceptance_notice() -> AcceptanceNoticeData:
    return AcceptanceNoticeData(
        notice_no=f"{PLANNING_CASE}-受",
        applicant_name="汕尾市城区香洲置业有限公司",
        matter_name=PLANNING_MATTER,
        case_no=PLANNING_CASE,
        received_text="2026 年 3 月 5 日",
        accepted_text="2026-03-09 10:20",
        promised_text="20 个工作日（法定 20 个工作日）",
        due_text="2026 年 4 月 7 日",
        delivery_text="邮寄给申请人",
        owed=(),
        unit=PLANNING_UNIT,
        contact_phone="0660-3212345",
        date_text="2026 年 3 月 9 日",
        tracking_url=PLANNING_URL,
    )


def rejection_decision() -> RejectionDecisionData:
    return RejectionDecisionData(
        decision_no=f"{LIGHTNING_CASE}-不受",
        applicant_name="张小三",
        matter_name="防雷装置竣工验收",
        case_no=LIGHTNING_CASE,
        applied_text="2026 年 3 月 2 日",
        reason="该防雷装置属于房屋建筑工程的组成部分，其竣工验收依法由住房和城乡建设主管部门负责，不属于本机关职权范围",
        legal_basis="《中华人民共和国行政许可法》第三十二条第一款第（二）项",
        review_body="汕尾市人民政府",
        court="汕尾市城区人民法院",
        unit=LIGHTNING_UNIT,
        contact_phone="0660-3312121",
        date_text="2026 年 3 月 4 日",
        tracking_url=LIGHTNING_URL,
    )


def denial_decision() -> DenialDecisionData:
    return DenialDecisionData(
        decision_no=f"{PLANNING_CASE}-不许",
        applicant_name="汕尾市城区香洲置业有限公司",
        matter_name=PLANNING_MATTER,
        case_no=PLANNING_CASE,
        applied_text="2026 年 3 月 5 日",
        reason="建设工程设计方案的容积率为 3.6，超出规划条件确定的 3.0，且经告知后未予修改",
        legal_basis="《中华人民共和国城乡规划法》第四十条、《中华人民共和国行政许可法》第三十八条第二款",
        review_body="汕尾市人民政府",
        court="汕尾市城区人民法院",
        unit=PLANNING_UNIT,
        contact_phone="0660-3212345",
        date_text="2026 年 4 月 2 日",
        tracking_url=PLANNING_URL,
    )
