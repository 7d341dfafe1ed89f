"""The applicant's SMS for electronic materials and results: "pushed", not "sent by post"; the
signed result announced with the link to the page where it downloads."""

from __future__ import annotations

from datetime import date

from adapters.calendar import LiveCalendar
from adapters.sms.templates import TEMPLATES, fits_one_segment
from worker.notifications import PLANS, Facts, PackageFacts


def facts(delivery: str, package: PackageFacts | None = None) -> Facts:
    return Facts(
        phone="13812345678",
        case_no="441581-20260302-0001-X",
        delivery=delivery,
        window_office_id="win-441581",
        department_office_id="dept-441500-qx",
        offices={"win-441581": "陆丰窗口", "dept-441500-qx": "汕尾市气象局"},
        accepted_on=None,
        limit=1,
        extensions=(),
        stages=(),
        today=date(2026, 3, 2),
        package=package,
    )


def test_an_electronic_push_and_an_electronic_result_have_their_own_sms():
    outbound = PackageFacts("outbound", "win-441581", "dept-441500-qx", False, None, "441581-20260302-0002-3")
    pushed = PLANS["package.pushed"](
        {"type": "package.pushed", "data": {}}, facts("electronic", outbound), LiveCalendar()
    )
    picked = PLANS["package.picked_up"](
        {"type": "package.picked_up", "data": {}}, facts("mail_to_applicant", outbound), LiveCalendar()
    )
    assert [p.template for p in pushed if p.template in ("pushed", "forwarded")] == ["pushed"]
    assert [p.template for p in picked if p.template in ("pushed", "forwarded")] == ["forwarded"]
    delivered = PLANS["case.delivered"]({"type": "case.delivered", "data": {}}, facts("electronic"), LiveCalendar())
    assert [p.template for p in delivered] == ["result_electronic", "rating_request"]
    mailed = PLANS["case.delivered"]({"type": "case.delivered", "data": {}}, facts("mail_to_applicant"), LiveCalendar())
    assert [p.template for p in mailed] == ["delivered", "rating_request"]
    assert "下载" in TEMPLATES["result_electronic"].text and "推送" in TEMPLATES["pushed"].text
    assert fits_one_segment("result_electronic", "汕尾政务") and fits_one_segment("pushed", "汕尾政务")
