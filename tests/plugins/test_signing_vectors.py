"""Known answers: our request signers reproduce the providers' own worked examples.

Tencent Cloud, API 3.0 "签名方法 v3" (TC3-HMAC-SHA256), e.g. cloud.tencent.com/document/api/362/4208
and the tencentcloud.com translations: DescribeInstances on cvm.tencentcloudapi.com at timestamp 1551113065 with
the JSON body below. The zh-CN page masks its key as ``Gu5t9xGARNpq86cd98joQYCN3*******`` and its
published signature is the one that masked string itself yields (2230eefd…); the English and
other translations use ``…EXAMPLE`` keys and publish 72e494ea…. Both are checked.

Alibaba Cloud, "V3版本请求体&签名机制" (ACS3-HMAC-SHA256),
help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature: RunInstances on
ecs.cn-shanghai.aliyuncs.com, x-acs-date 2023-10-26T10:22:32Z, nonce
3156853299f313e23d1673dc12e1703d, key YourAccessKeyId / YourAccessKeySecret.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from guahao.plugins.channels.sms_aliyun import signing as aliyun
from guahao.plugins.channels.sms_tencent import signing as tencent

TC3_BODY = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
TC3_TIMESTAMP = 1551113065


def test_tencent_body_hash_is_the_documented_one():
    assert hashlib.sha256(TC3_BODY).hexdigest() == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"


def test_tencent_zh_cn_example_with_the_masked_key():
    authorization = tencent.authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        host="cvm.tencentcloudapi.com", service="cvm", body=TC3_BODY, timestamp=TC3_TIMESTAMP,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


def test_tencent_example_with_the_example_key():
    scope, signature = tencent.signature(
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", host="cvm.tencentcloudapi.com", service="cvm",
        body=TC3_BODY, timestamp=TC3_TIMESTAMP,
    )
    assert scope == "2019-02-25/cvm/tc3_request"  # UTC date, although it is 2019-02-26 in Beijing
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


ACS3_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
ACS3_NOW = datetime(2023, 10, 26, 10, 22, 32, tzinfo=UTC)
ACS3_NONCE = "3156853299f313e23d1673dc12e1703d"


def test_aliyun_string_to_sign_is_the_documented_one():
    query = aliyun.canonical_query(ACS3_QUERY)
    assert query == "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
    headers = {
        "host": "ecs.cn-shanghai.aliyuncs.com",
        "x-acs-action": "RunInstances",
        "x-acs-version": "2014-05-26",
        "x-acs-date": "2023-10-26T10:22:32Z",
        "x-acs-signature-nonce": ACS3_NONCE,
        "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    to_sign, signed = aliyun.string_to_sign("POST", "/", query, headers, b"")
    assert to_sign == "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    assert signed == "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"


def test_aliyun_authorization_is_the_documented_one():
    headers = aliyun.signed_headers(
        host="ecs.cn-shanghai.aliyuncs.com", action="RunInstances", version="2014-05-26",
        query=aliyun.canonical_query(ACS3_QUERY), key_id="YourAccessKeyId", secret="YourAccessKeySecret",
        now=ACS3_NOW, nonce=ACS3_NONCE,
    )
    assert headers["authorization"] == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_aliyun_percent_encoding_follows_rfc_3986():
    assert aliyun.percent("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"
