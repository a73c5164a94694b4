"""WeChat Pay API v3 signatures and callback decryption.

- A request is signed over ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` with the
  merchant's RSA private key (SHA256withRSA, PKCS#1 v1.5, Base64) and sent as
  ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…``.
- Answers and callbacks are signed by WeChat Pay over ``TIMESTAMP\\nNONCE\\nBODY\\n``
  (``Wechatpay-Signature``/``-Timestamp``/``-Nonce``/``-Serial``) and verified with the
  WeChat Pay public key.
- A callback's ``resource`` is AES-256-GCM encrypted with the APIv3 key (nonce and associated
  data in the clear, the tag appended to the ciphertext).
- JSAPI's ``paySign`` signs ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` with the merchant key.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from functools import lru_cache
from typing import Mapping

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"


class BadKey(ValueError):
    """A configured key is not a usable RSA PEM key."""


@lru_cache(maxsize=64)
def private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise BadKey("not a PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise BadKey("not an RSA private key")
    return key


@lru_cache(maxsize=64)
def public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError) as exc:
        raise BadKey("not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadKey("not an RSA public key")
    return key


def rsa_sign(pem: str, message: str) -> str:
    """Base64 SHA256withRSA (PKCS#1 v1.5) signature of ``message`` with a private key."""
    signature = private_key(pem).sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(pem: str, message: str | bytes, signature: str) -> bool:
    """Whether ``signature`` (Base64) signs ``message`` under the public key ``pem``."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key(pem).verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def nonce() -> str:
    return secrets.token_hex(16).upper()


def request_message(method: str, path_and_query: str, timestamp: str, nonce_str: str, body: str) -> str:
    return f"{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce_str}\n{body}\n"


def authorization(*, mchid: str, serial_no: str, private_pem: str, method: str, path_and_query: str,
                  body: str = "", timestamp: int | None = None, nonce_str: str | None = None) -> str:
    """The ``Authorization`` header of one request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce_str or nonce()
    signature = rsa_sign(private_pem, request_message(method, path_and_query, ts, nonce_str, body))
    return (f'{SCHEME} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
            f'timestamp="{ts}",serial_no="{serial_no}"')


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an ``Authorization`` header (any order); ``{}`` for another scheme."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SCHEME:
        return {}
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip().strip('"')
    return fields


def response_message(timestamp: str, nonce_str: str, body: str | bytes) -> bytes:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return f"{timestamp}\n{nonce_str}\n".encode() + raw + b"\n"


def verify_response(headers: Mapping[str, str], body: str | bytes, *, public_pem: str, public_key_id: str) -> str:
    """Check the WeChat Pay signature of an answer or callback; returns ``""`` when good,
    else why not (``signature_type``, ``serial``, ``signature``)."""
    if headers.get("wechatpay-signature-type", SCHEME) != SCHEME:
        return "signature_type"
    if headers.get("wechatpay-serial", "") != public_key_id:
        return "serial"
    message = response_message(headers.get("wechatpay-timestamp", ""), headers.get("wechatpay-nonce", ""), body)
    if not rsa_verify(public_pem, message, headers.get("wechatpay-signature", "")):
        return "signature"
    return ""


def sign_response(body: str | bytes, *, private_pem: str, serial: str, timestamp: int | None = None,
                  nonce_str: str | None = None) -> dict[str, str]:
    """The headers WeChat Pay signs an answer or callback with (used by fakes and demos)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce_str or nonce()
    signature = base64.b64encode(
        private_key(private_pem).sign(response_message(ts, nonce_str, body), padding.PKCS1v15(), hashes.SHA256())
    ).decode("ascii")
    return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce_str, "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial, "Wechatpay-Signature-Type": SCHEME}


def decrypt_resource(resource: Mapping, apiv3_key: str) -> dict:
    """The plaintext of a callback's ``resource`` (AEAD_AES_256_GCM); raises ``ValueError``
    when it does not decrypt or is not a JSON object."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ValueError("unsupported algorithm")
    key = apiv3_key.encode("utf-8")
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    try:
        plain = AESGCM(key).decrypt(
            str(resource.get("nonce", "")).encode("utf-8"),
            base64.b64decode(str(resource.get("ciphertext", "")), validate=True),
            str(resource.get("associated_data") or "").encode("utf-8"),
        )
        data = json.loads(plain)
    except (InvalidTag, ValueError) as exc:
        raise ValueError("resource does not decrypt") from exc
    if not isinstance(data, dict):
        raise ValueError("resource is not an object")
    return data


def encrypt_resource(plain: Mapping, apiv3_key: str, *, original_type: str, associated_data: str) -> dict:
    """A ``resource`` as WeChat Pay encrypts it (used by fakes and demos)."""
    nonce_str = secrets.token_hex(6)  # 12 characters, as WeChat Pay sends
    cipher = AESGCM(apiv3_key.encode("utf-8")).encrypt(
        nonce_str.encode(), json.dumps(plain, ensure_ascii=False).encode("utf-8"), associated_data.encode()
    )
    return {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(cipher).decode("ascii"), "associated_data": associated_data,
            "nonce": nonce_str}


def jsapi_parameters(*, appid: str, prepay_id: str, private_pem: str, timestamp: int | None = None,
                     nonce_str: str | None = None) -> dict[str, str]:
    """The signed parameters ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` takes."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce_str or nonce()
    package = f"prepay_id={prepay_id}"
    return {"appId": appid, "timeStamp": ts, "nonceStr": nonce_str, "package": package, "signType": "RSA",
            "paySign": rsa_sign(private_pem, f"{appid}\n{ts}\n{nonce_str}\n{package}\n")}
