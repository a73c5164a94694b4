"""RSA keys as Alipay's open platform hands them out: PEM, or the bare base64 its key tool
shows (wrapped here into PEM)."""

from __future__ import annotations

import textwrap

from Cryptodome.PublicKey import RSA


class KeyInvalid(ValueError):
    """The text is not an RSA key of the expected kind."""


def _pem(text: str, kind: str) -> str:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return text
    body = "\n".join(textwrap.wrap("".join(text.split()), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def private_key(text: str) -> str:
    """The app private key as PEM; raises :class:`KeyInvalid` unless it is an RSA private key."""
    pem = _pem(text, "PRIVATE KEY")
    try:
        key = RSA.import_key(pem)
    except (ValueError, IndexError, TypeError):
        raise KeyInvalid("不是有效的 RSA 私钥 / not an RSA private key") from None
    if not key.has_private():
        raise KeyInvalid("这是公钥，应填应用私钥 / this is a public key, the app private key is needed")
    return pem


def public_key(text: str) -> str:
    """Alipay's public key as PEM; raises :class:`KeyInvalid` unless it is an RSA public key."""
    pem = _pem(text, "PUBLIC KEY")
    try:
        key = RSA.import_key(pem)
    except (ValueError, IndexError, TypeError):
        raise KeyInvalid("不是有效的 RSA 公钥 / not an RSA public key") from None
    if key.has_private():
        raise KeyInvalid("这是私钥，应填支付宝公钥 / this is a private key, Alipay's public key is needed")
    return pem
