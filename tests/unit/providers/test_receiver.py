"""Who signed for a delivery, read from the carriers' free text (none of them has a field for it)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.logistics.common import dedupe, receiver_from
from handoff.ports import TrackingEvent, TrackingStatus


def test_the_receiver_is_read_from_each_carriers_wording_and_left_empty_when_not_said():
    assert receiver_from("快件已签收，签收人是：张小三") == "张小三"
    assert receiver_from("已签收,签收人:本人,感谢使用顺丰") == "本人"
    assert receiver_from("【汕尾市】已妥投，签收人为 前台 ，投递员：李四") == "前台"
    assert receiver_from("顺丰速运 已签收，感谢使用顺丰，期待再次为您服务") == ""


def test_only_a_delivery_carries_a_receiver():
    at = datetime(2026, 3, 2, tzinfo=UTC)
    moving = TrackingEvent("sf", "SF1", TrackingStatus.IN_TRANSIT, "30", "", at, description="收件人：王五")
    done = TrackingEvent("sf", "SF1", TrackingStatus.DELIVERED, "80", "", at, description="签收人：王五")
    assert [e.receiver for e in dedupe([moving, done])] == ["", "王五"]
