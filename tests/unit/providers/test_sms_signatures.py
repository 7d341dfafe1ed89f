"""Alibaba and Tencent signatures, proved on the published worked examples (providers.md §1–2),
both in the adapters and in the fake servers that will judge them."""

from __future__ import annotations

import hashlib
import json

import pytest

from adapters.sms import alibaba, tencent
from tests.fakes import sms_servers

VECTOR_A = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}

VECTOR_B = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}

VECTOR_C_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-content-sha256": alibaba.EMPTY_SHA256,
}
VECTOR_C_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
VECTOR_C_SIGNATURE = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"

CVM_PAYLOAD = json.dumps({"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]}).encode()
TC3_VECTORS = [
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", False,
     "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
     "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"),
    ("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", True,
     "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
     "be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3"),
    ("AKID" + "*" * 32, "*" * 32, True,
     "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
     "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"),
]  # fmt: skip


def test_the_alibaba_rpc_signature_matches_the_official_sendsms_example():
    assert alibaba.rpc_signature("testSecret", "GET", VECTOR_A) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert alibaba.percent_encode("zJDF+Lrzhj/ThnlvIToysFRq6t4=") == "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D"


def test_the_alibaba_rpc_string_to_sign_double_encodes_the_query():
    to_sign = alibaba.rpc_string_to_sign("GET", VECTOR_A)
    assert to_sign.startswith("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26")
    assert to_sign.endswith("%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25")


def test_the_alibaba_rpc_signature_matches_the_official_ecs_example_and_not_the_typo():
    assert alibaba.rpc_signature("testsecret", "GET", VECTOR_B) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_the_alibaba_percent_encoding_follows_rfc_3986_not_form_encoding():
    assert alibaba.percent_encode("a b*c~d/e") == "a%20b%2Ac~d%2Fe"


def test_the_alibaba_acs3_signature_matches_the_official_v3_example():
    canonical, signed = alibaba.acs3_canonical_request(
        "POST", "/", VECTOR_C_QUERY, VECTOR_C_HEADERS, alibaba.EMPTY_SHA256
    )
    assert signed == "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert alibaba.acs3_signature("YourAccessKeySecret", canonical) == VECTOR_C_SIGNATURE
    assert alibaba.acs3_authorization("YourAccessKeyId", signed, "x") == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=" + signed + ",Signature=x"
    )


def test_the_fake_alibaba_server_verifies_both_official_examples():
    assert sms_servers.alibaba_rpc_expected("testSecret", "GET", VECTOR_A) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms_servers.alibaba_rpc_expected("testsecret", "GET", VECTOR_B) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    signed = sorted(VECTOR_C_HEADERS)
    expected = sms_servers.alibaba_acs3_expected(
        "YourAccessKeySecret", "POST", VECTOR_C_QUERY, VECTOR_C_HEADERS, signed, alibaba.EMPTY_SHA256
    )
    assert expected == VECTOR_C_SIGNATURE


@pytest.mark.parametrize(("secret_id", "secret_key", "sign_action", "canonical_sha", "signature"), TC3_VECTORS)
def test_the_tencent_tc3_signature_matches_every_published_revision(
    secret_id, secret_key, sign_action, canonical_sha, signature
):
    assert hashlib.sha256(CVM_PAYLOAD).hexdigest() == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    signed = tencent.tc3_sign(
        secret_id=secret_id,
        secret_key=secret_key,
        service="cvm",
        host="cvm.tencentcloudapi.com",
        action="DescribeInstances",
        timestamp=1551113065,
        payload=CVM_PAYLOAD,
        sign_action=sign_action,
    )
    assert hashlib.sha256(signed.canonical_request.encode()).hexdigest() == canonical_sha
    assert signed.signature == signature
    assert signed.authorization.startswith(f"TC3-HMAC-SHA256 Credential={secret_id}/2019-02-25/cvm/tc3_request, ")
    headers = {
        "content-type": "application/json; charset=utf-8",
        "host": "cvm.tencentcloudapi.com",
        "x-tc-action": "DescribeInstances",
    }
    names = "content-type;host;x-tc-action" if sign_action else "content-type;host"
    assert sms_servers.tc3_expected(secret_key, "cvm", 1551113065, headers, names, CVM_PAYLOAD) == signature


def test_the_tencent_sms_send_is_signed_like_the_self_computed_vector():
    payload = (
        '{"PhoneNumberSet": ["+8613800000000"], "SmsSdkAppId": "1400006666", "SignName": "测试签名", '
        '"TemplateId": "1110", "TemplateParamSet": ["123456"], "SessionContext": "handoff-42"}'
    ).encode()
    signed = tencent.tc3_sign(
        secret_id="AKIDEXAMPLE",
        secret_key="SECRETEXAMPLE",
        service="sms",
        host="sms.tencentcloudapi.com",
        action="SendSms",
        timestamp=1767225600,
        payload=payload,
    )
    assert hashlib.sha256(signed.canonical_request.encode()).hexdigest() == (
        "e889af49cc3b458bec2c4a271363d6afeb0ecff665b28c31654445248e6daf4f"
    )
    assert signed.signature == "e30f64248dbdb82149aa9c843732588c63ac4028720b1a6eb13e8e69a831fabe"
