"""Templates, status tables, delivery-report parsing and de-duplication keys."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.sms import alibaba, tencent
from adapters.sms.reports import report_key
from adapters.sms.settings import SettingsError, TencentSmsSettings
from adapters.sms.statuses import expire_sending
from adapters.sms.templates import TEMPLATES, fits_one_segment, longest_text, render, segments
from handoff.ports import InboundHttp, ProviderError, SmsStatus

OUR_KEYS = {
    "receipt", "forwarded", "signed", "accepted", "supplement_requested", "rejected", "stage_opened",
    "stage_closed", "extended", "decided", "result_shipped", "closed_unsupplemented", "ready_for_pickup",
    "delivered", "rating_request", "iou_reminder", "pushed", "result_electronic",
    "incoming_package", "action_needed", "deadline_warning", "overdue",
}  # fmt: skip

ALIBABA_REPORT = (
    '[{"phone_number":"1381111****","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:00:00",'
    '"success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"12345********",'
    '"out_id":"67890**"}]'
).encode()
TENCENT_REPORT = (
    '[{"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13xxxxxxxxx",'
    '"report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"xxxxxxx"}]'
).encode()


def inbound(body: bytes, token: str = "t0ken") -> InboundHttp:
    return InboundHttp("POST", "/callbacks/sms", {"token": token}, {"content-type": "application/json"}, body)


def test_every_one_of_our_template_keys_has_a_chinese_text():
    assert set(TEMPLATES) == OUR_KEYS
    assert all(any("\u4e00" <= c <= "\u9fff" for c in t.text) for t in TEMPLATES.values())


@pytest.mark.parametrize("key", sorted(k for k, t in TEMPLATES.items() if "link" in t.params and t.one_segment))
def test_an_sms_with_the_tracking_link_stays_within_one_segment(key):
    assert fits_one_segment(key, "汕尾市政务服务"), longest_text(key, "汕尾市政务服务")


def test_only_the_waybill_notice_may_take_a_second_segment():
    assert [k for k, t in TEMPLATES.items() if not t.one_segment] == ["result_shipped"]
    assert segments(longest_text("result_shipped", "汕尾市政务服务")) == 2


def test_a_long_chinese_text_is_billed_in_67_character_parts():
    assert segments("字" * 70) == 1
    assert segments("字" * 71) == 2
    assert segments("a" * 160) == 1


def test_a_template_renders_with_its_params_and_refuses_missing_ones():
    assert render("accepted", {"due": "2026-03-20", "link": "https://x/t/1"}) == (
        "您的申请已受理，2026-03-20前办结，详情：https://x/t/1"
    )
    with pytest.raises(ProviderError) as caught:
        render("accepted", {"link": "https://x/t/1", "case_no": "1"})
    assert caught.value.status is SmsStatus.PERMANENT_FAILURE
    assert "缺少参数 due" in caught.value.reason and "多余参数 case_no" in caught.value.reason


def test_an_unknown_template_key_is_a_permanent_failure():
    with pytest.raises(ProviderError) as caught:
        render("birthday", {})
    assert caught.value.status is SmsStatus.PERMANENT_FAILURE


def test_an_unknown_provider_code_goes_to_the_fallback_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="handoff.sms"):
        status, reason = alibaba.SEND_CODES.classify("isv.BRAND_NEW")
    assert status is SmsStatus.TECHNICAL_FAILURE
    assert "isv.BRAND_NEW" in reason
    assert any(r.message == "unknown provider code" for r in caplog.records)


def test_a_tencent_error_block_is_mapped_even_with_http_200():
    body = b'{"Response":{"Error":{"Code":"AuthFailure.SecretIdNotFound","Message":"x"},"RequestId":"r"}}'
    with pytest.raises(ProviderError) as caught:
        tencent.parse_send_response(200, body)
    assert caught.value.status is SmsStatus.TECHNICAL_FAILURE


def test_a_tencent_per_number_failure_inside_a_successful_request_is_a_failure():
    body = json.dumps(
        {"Response": {"SendStatusSet": [{"SerialNo": "", "Code": "FailedOperation.PhoneNumberInBlacklist"}]}}
    ).encode()
    with pytest.raises(ProviderError) as caught:
        tencent.parse_send_response(200, body)
    assert caught.value.status is SmsStatus.PERMANENT_FAILURE


def test_the_alibaba_success_example_gives_the_biz_id():
    body = (
        b'{"Code":"OK","Message":"OK","BizId":"9006197469364984400","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8D230E"}'
    )
    assert alibaba.parse_send_response(200, body).message_id == "9006197469364984400"


def test_the_documented_alibaba_sms_report_parses_as_delivered():
    receiver = alibaba.AlibabaReportReceiver(alibaba_settings())
    [report] = receiver.parse_reports(inbound(ALIBABA_REPORT))
    assert (report.message_id, report.phone, report.status) == ("12345********", "1381111****", SmsStatus.DELIVERED)
    assert report.reported_at == datetime(2016, 12, 31, 16, 0, tzinfo=UTC)
    assert json.loads(receiver.answer(True).body) == {"code": 0, "msg": "接收成功"}
    assert receiver.answer(False).status != 200


def test_a_failed_alibaba_report_is_mapped_by_its_code():
    body = ALIBABA_REPORT.replace(b'"success":true', b'"success":false').replace(b"DELIVERED", b"UNDELIV")
    [report] = alibaba.parse_sms_report(body)
    assert (report.status, report.raw_code) == (SmsStatus.PERMANENT_FAILURE, "UNDELIV")


def test_the_documented_tencent_callback_parses_as_delivered():
    receiver = tencent.TencentReportReceiver(tencent_settings())
    [report] = receiver.parse_reports(inbound(TENCENT_REPORT))
    assert (report.message_id, report.status, report.raw_code) == ("xxxxxxx", SmsStatus.DELIVERED, "DELIVRD")
    assert json.loads(receiver.answer(True).body) == {"result": 0, "errmsg": "OK"}


@pytest.mark.parametrize("token", ["", "guess"])
def test_a_delivery_push_without_the_secret_token_is_refused(token):
    with pytest.raises(ProviderError):
        alibaba.AlibabaReportReceiver(alibaba_settings()).parse_reports(inbound(ALIBABA_REPORT, token))
    with pytest.raises(ProviderError):
        tencent.TencentReportReceiver(tencent_settings()).parse_reports(inbound(TENCENT_REPORT, token))


@pytest.mark.parametrize("body", [b"not json", b"{}", b'[{"success":"yes"}]', b'[{"report_status":"MAYBE"}]'])
def test_a_malformed_push_is_refused(body):
    with pytest.raises(ProviderError):
        alibaba.parse_sms_report(body)
    with pytest.raises(ProviderError):
        tencent.parse_status_callback(body)


def test_a_duplicated_push_parses_to_the_same_dedup_keys():
    first = [report_key(r) for r in alibaba.parse_sms_report(ALIBABA_REPORT)]
    again = [report_key(r) for r in alibaba.parse_sms_report(ALIBABA_REPORT)]
    assert first == again
    other = alibaba.parse_sms_report(
        ALIBABA_REPORT.replace(b'"report_time":"2017-01-01 00:00:00"', b'"report_time":"2017-01-01 00:00:05"')
    )
    assert report_key(other[0]) != first[0]


def test_a_message_left_sending_too_long_ends_as_a_temporary_failure():
    sent = datetime(2026, 3, 1, tzinfo=UTC)
    assert expire_sending(SmsStatus.SENDING, sent, sent + timedelta(hours=71)) is None
    assert expire_sending(SmsStatus.SENDING, sent, sent + timedelta(hours=72)) == (
        SmsStatus.TEMPORARY_FAILURE,
        "超时未收到回执",
    )
    assert expire_sending(SmsStatus.DELIVERED, sent, sent + timedelta(days=9)) is None


def test_tencent_settings_come_from_handoff_variables_and_name_what_is_missing():
    settings = tencent_settings()
    assert settings.region == "ap-guangzhou" and settings.templates == {"receipt": "1110"}
    with pytest.raises(SettingsError, match="HANDOFF_TENCENT_SECRET_KEY"):
        TencentSmsSettings.from_env({"HANDOFF_TENCENT_SECRET_ID": "x"})
    with pytest.raises(SettingsError, match="未知的模板名"):
        TencentSmsSettings.from_env({**TENCENT_ENV, "HANDOFF_TENCENT_SMS_TEMPLATES": '{"birthday": "1"}'})


TENCENT_ENV = {
    "HANDOFF_TENCENT_SECRET_ID": "AKIDhandoff",
    "HANDOFF_TENCENT_SECRET_KEY": "key",
    "HANDOFF_TENCENT_SMS_SDK_APP_ID": "1400006666",
    "HANDOFF_TENCENT_SMS_SIGN_NAME": "汕尾政务",
    "HANDOFF_TENCENT_SMS_TEMPLATES": '{"receipt": 1110}',
    "HANDOFF_TENCENT_SMS_CALLBACK_TOKEN": "t0ken",
}


def tencent_settings() -> TencentSmsSettings:
    return TencentSmsSettings.from_env(TENCENT_ENV)


def alibaba_settings() -> alibaba.AlibabaSmsSettings:
    return alibaba.AlibabaSmsSettings.from_env(
        {
            "HANDOFF_ALIBABA_ACCESS_KEY_ID": "LTAI",
            "HANDOFF_ALIBABA_ACCESS_KEY_SECRET": "secret",
            "HANDOFF_ALIBABA_SMS_SIGN_NAME": "汕尾政务",
            "HANDOFF_ALIBABA_SMS_TEMPLATES": '{"receipt": "SMS_1"}',
            "HANDOFF_ALIBABA_SMS_CALLBACK_TOKEN": "t0ken",
        }
    )


# --------------------------------------------------------------------------- looking up a cut-off send


def test_a_send_just_before_beijing_midnight_is_looked_up_on_both_days():
    sent = datetime(2026, 3, 9, 15, 50, tzinfo=UTC)  # 23:50 in Beijing
    assert alibaba.send_dates(sent, datetime(2026, 3, 9, 16, 10, tzinfo=UTC)) == [date(2026, 3, 10), date(2026, 3, 9)]
    assert alibaba.send_dates(sent, datetime(2026, 3, 9, 15, 55, tzinfo=UTC)) == [date(2026, 3, 9)]


def test_query_send_details_is_matched_on_our_out_id_and_its_send_status_read():
    body = json.dumps(
        {
            "Code": "OK",
            "Message": "OK",
            "RequestId": "819BE656-D2E0-4858-8B21-B2E477085AAF",
            "TotalCount": "2",
            "SmsSendDetailDTOs": {
                "SmsSendDetailDTO": [
                    {"PhoneNum": "13800138000", "SendStatus": 3, "ErrCode": "DELIVERED", "OutId": "other"},
                    {
                        "PhoneNum": "13800138000",
                        "SendStatus": 2,
                        "ErrCode": "UNDELIV",
                        "SendDate": "2026-03-10 10:30:00",
                        "ReceiveDate": "2026-03-10 10:30:09",
                        "OutId": "ref-1",
                    },
                ]
            },
        }
    ).encode()
    found, total = alibaba.parse_query_response(200, body, "ref-1")
    assert total == 2 and found is not None
    assert (found.status, found.raw_code, found.reported_at.isoformat()) == (
        SmsStatus.PERMANENT_FAILURE,
        "UNDELIV",
        "2026-03-10T10:30:09+08:00",
    )
    assert alibaba.parse_query_response(200, body, "ref-2") == (None, 2)
    with pytest.raises(ProviderError) as refused:
        alibaba.parse_query_response(200, b'{"Code":"SignatureDoesNotMatch","Message":"x"}', "ref-1")
    assert refused.value.raw_code == "SignatureDoesNotMatch"


def test_a_pulled_tencent_report_is_matched_on_our_session_context():
    record = {
        "Description": "DELIVRD",
        "CountryCode": "86",
        "SubscriberNumber": "15291996666",
        "ReportStatus": "SUCCESS",
        "PhoneNumber": "+8615291996666",
        "SerialNo": "14:19325917feb3914eb78b50d6182d7e452e",
        "UserReceiveTime": 1620734188,
        "SessionContext": "ref-1",
    }
    body = json.dumps({"Response": {"PullSmsSendStatusSet": [record], "RequestId": "8979fc1e"}}).encode()
    found, count = tencent.parse_pull_response(200, body, "ref-1")
    assert count == 1 and found is not None
    assert (found.status, found.message_id) == (SmsStatus.DELIVERED, "14:19325917feb3914eb78b50d6182d7e452e")
    assert tencent.parse_pull_response(200, body, "ref-2") == (None, 1)
