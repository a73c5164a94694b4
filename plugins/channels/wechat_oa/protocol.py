"""WeChat's server protocol for an official account (公众号服务器配置), with ``wechatpy``.

- Every request carries ``signature, timestamp, nonce`` in the query: ``signature`` is the hex
  SHA-1 of the sorted, joined ``[token, timestamp, nonce]``. URL verification is a GET that
  adds ``echostr``, answered verbatim.
- Messages are XML POSTs. In safe mode (``encrypt_type=aes``) the body carries ``Encrypt`` and
  the query ``msg_signature`` = SHA-1 of the sorted ``[token, timestamp, nonce, Encrypt]``;
  ``Encrypt`` is AES-256-CBC with key = Base64(EncodingAESKey + "="), IV = key[:16], PKCS#7
  to 32 bytes, over 16 random bytes + 4-byte big-endian length + XML + AppID
  (``wechatpy.crypto``). The answer is encrypted the same way.
- A ``timestamp`` further from now than the city's window is refused (a replayed push).

:func:`read` returns the authenticated message (``wechatpy`` message or event) or raises
:class:`Refused` having changed nothing; :func:`answer` renders the passive reply.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from wechatpy import create_reply, parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto

MAX_BODY = 64 * 1024


class Refused(Exception):
    """The request is not believed or cannot be read: answered ``status`` with ``code``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Keys:
    """What authenticates a city's pushes: the token, the AES key (``""``: plain mode only)
    and the account's AppID."""

    token: str
    aes_key: str
    app_id: str


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: hex SHA-1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def check_request(query, keys: Keys, *, now: float, tolerance: int) -> None:
    """The query's ``signature`` over token, timestamp and nonce, and its timestamp's age."""
    if not keys.token:
        raise Refused(400, "not_configured", "本市未配置公众号令牌 Token")
    timestamp, nonce, signature = query.get("timestamp", ""), query.get("nonce", ""), query.get("signature", "")
    if not timestamp.isdigit() or not nonce or not signature:
        raise Refused(401, "invalid_signature", "缺少 signature、timestamp 或 nonce")
    if not _same(signature, sha1_signature(keys.token, timestamp, nonce)):
        raise Refused(401, "invalid_signature", "签名不正确")
    if abs(now - int(timestamp)) > tolerance:
        raise Refused(401, "stale_timestamp", f"timestamp 与当前时间相差超过 {tolerance} 秒")


def _decrypt(body: bytes, query, keys: Keys) -> str:
    if not keys.aes_key:
        raise Refused(400, "not_configured", "本市未配置消息加解密密钥 EncodingAESKey，无法读取安全模式消息")
    try:
        import xmltodict

        encrypt = xmltodict.parse(body.decode("utf-8"))["xml"]["Encrypt"]
    except Exception:  # malformed XML or no Encrypt element: whatever the parser raises
        raise Refused(400, "invalid_payload", "消息体不是含 Encrypt 的 XML") from None
    if not isinstance(encrypt, str) or not _same(query.get("msg_signature", ""), sha1_signature(
            keys.token, query.get("timestamp", ""), query.get("nonce", ""), encrypt)):
        raise Refused(401, "invalid_signature", "msg_signature 不正确")
    try:
        crypto = WeChatCrypto(keys.token, keys.aes_key, keys.app_id)
        return PrpCrypto(crypto.key).decrypt(encrypt, keys.app_id)
    except Exception:  # bad padding, length or AppID: the key or the sender is not the account's
        raise Refused(400, "invalid_payload", "密文无法解密或 AppID 不符") from None


def read(body: bytes, query, keys: Keys, *, now: float, tolerance: int):
    """The message of an authenticated POST (a ``wechatpy`` message or event object)."""
    if len(body) > MAX_BODY:
        raise Refused(413, "payload_too_large", "消息体过大")
    check_request(query, keys, now=now, tolerance=tolerance)
    xml = _decrypt(body, query, keys) if query.get("encrypt_type") == "aes" else body.decode("utf-8", "replace")
    try:
        message = parse_message(xml)
    except Exception:  # malformed XML, no MsgType: whatever the parser raises
        message = None
    if message is None or not getattr(message, "source", None):
        raise Refused(400, "invalid_payload", "消息体不是微信消息 XML")
    return message


def answer(message, text: str, query, keys: Keys, *, now: float) -> str:
    """The passive reply to ``message``: a text reply (To/From swapped, CDATA) when there is
    ``text``, else ``success`` (no reply, no retry); encrypted in safe mode."""
    if not text:
        return "success"
    xml = create_reply(text, message).render()
    if query.get("encrypt_type") == "aes":
        crypto = WeChatCrypto(keys.token, keys.aes_key, keys.app_id)
        return crypto.encrypt_message(xml, query.get("nonce", ""), str(int(now)))
    return xml
