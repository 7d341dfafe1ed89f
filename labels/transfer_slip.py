"""Appendix B 申请材料转办单: travels with the package; its QR is the signed scan payload and its
Code128 the package code, so the department can scan either."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from labels.drawing import CENTERED, build, code128, esc, fit, gap, grid, para, qr, styles
from labels.fonts import register
from labels.models import TransferSlipData

MIN_ROWS = 8
NAME_WIDTH, KIND_WIDTH, REMARKS_WIDTH = 70 * mm, 22 * mm, 40 * mm
WIDE = 134 * mm


def kind(original: bool | None) -> str:
    return "" if original is None else "原件" if original else "复印件"


COMMITMENT = (
    "郑重承诺：我（单位）向 <u>{unit}</u> 申请办理（事项名称 <u>{matter}</u>），提交的以上材料真实合法有效，"
    "并对申请材料实质内容的真实性负责。如有虚假，愿意承担相应的法律责任。"
)


def render_transfer_slip(data: TransferSlipData) -> bytes:
    s = styles()
    head = Table(
        [
            [para("申请材料转办单", s["title"]), qr(data.scan_payload, 30)],
            [
                code128(data.package_code.replace("-", "")),
                f"材料包编号\n{data.package_code}",
            ],
            [f"受理编号：{data.case_no}" if data.case_no else "", ""],
        ],
        colWidths=[128 * mm, 46 * mm],
    )
    head.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), register()),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("LEADING", (0, 0), (-1, -1), 12),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, -1), "CENTER"),
            ]
        )
    )
    rows: list[list[object]] = [["序号", "材料名称", "原件/复印件", "数量", "页数", "备注"]]
    for n, m in enumerate(data.materials, start=1):
        rows.append(
            [
                str(n),
                fit(m.name, s["cell"], NAME_WIDTH),
                kind(m.original),
                str(m.copies),
                str(m.pages) if m.pages else "",
                fit(m.remarks, s["cell"], REMARKS_WIDTH),
            ]
        )
    for n in range(len(data.materials) + 1, MIN_ROWS + 1):
        rows.append([str(n), "", "", "", "", ""])
    materials = grid(
        rows,
        [14 * mm, NAME_WIDTH, KIND_WIDTH, 14 * mm, 14 * mm, REMARKS_WIDTH],
        extra=[*CENTERED, ("ALIGN", (4, 1), (4, -1), "CENTER")],
    )
    owed = "；".join(f"{esc(row.name)}（{esc(row.requirement)}）" for row in data.owed) or "无"
    owed_line = para(f"容缺待补交材料：{owed}", s["cell"])
    commitment = para(COMMITMENT.format(unit=esc(data.deciding_unit), matter=esc(data.matter_name)), s["cell"])
    signature = para("申请人（签名或盖章）：<br/><br/>法定代表人（签名）：", s["cell"])
    lower = grid(
        [
            ["申请人承诺和联系方式", [commitment, gap(3), signature]],
            ["", fit(f"申请人：{data.applicant_name}　　联系电话：{data.contact_phone}", s["cell"], WIDE)],
            ["", fit(f"收件地址：{data.address}", s["cell"], WIDE)],
            [
                "接件单位",
                fit(f"{data.receiving_unit}\n\n（章）\n{data.date_text}", s["cell"], WIDE),
            ],
            ["转出单位", fit(data.sending_unit, s["cell"], WIDE)],
        ],
        [40 * mm, WIDE],
        header_rows=0,
        extra=[("SPAN", (0, 0), (0, 2)), ("ALIGN", (0, 0), (0, -1), "CENTER")],
    )
    return build([head, gap(3), materials, gap(2), owed_line, gap(4), lower], title="申请材料转办单")
