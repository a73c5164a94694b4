"""Signing and verifying licences: PASETO v4.public tokens (Ed25519), offline.

A token is ``v4.public.<claims and signature>.<footer>``. The claims are the licence document
(:mod:`.document`); the footer, signed too, names the key (``{"kid": "k4.pid.…"}``); the
implicit assertion ``guahao-licence-v1`` binds the signature to this use, so a token the same
key signed for something else is not a licence.

:func:`verify` refuses, each with its own code and a sentence in both languages:

- ``licence_malformed`` — not a v4.public token, or claims that are not a licence;
- ``licence_foreign_key`` — signed by a key this platform does not trust (a demo key in
  production, another vendor's key);
- ``licence_tampered`` — the signature does not match the content (changed after signing);
- ``licence_wrong_city`` — a licence for another city.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date

import pyseto
from pyseto.exceptions import VerifyError

from guahao.tenants.clock import utcnow

from .document import LicenceDocument, LicenceRefused, malformed, new_licence_id
from .keys import key_id_of_signer, signing_key

HEADER = "v4.public."
IMPLICIT = b"guahao-licence-v1"


@dataclass(frozen=True)
class VerifiedLicence:
    """A licence whose signature checked out: its document, the signing key's id and the token."""

    document: LicenceDocument
    key_id: str
    token: str


def sign(document: LicenceDocument, private_key_text: str) -> str:
    """The token of ``document`` signed with the vendor's private key (PEM or ``k4.secret.…``).
    A missing licence id or issue time is filled in."""
    key = signing_key(private_key_text)
    issued = document.issued_at or utcnow().replace(microsecond=0)
    filled = LicenceDocument(
        city=document.city, valid_until=document.valid_until, valid_from=document.valid_from,
        operator=document.operator, model=document.model, limits=document.limits, grace_days=document.grace_days,
        issued_at=issued, licence_id=document.licence_id or new_licence_id(issued),
    ).check()
    token = pyseto.encode(key, filled.to_claims(), footer={"kid": key_id_of_signer(key)}, implicit_assertion=IMPLICIT,
                          serializer=json)
    return token.decode("ascii")


def _footer_key_id(token: str) -> str:
    parts = token.split(".")
    if len(parts) != 4:
        return ""
    try:
        footer = json.loads(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    except ValueError:
        return ""
    kid = footer.get("kid") if isinstance(footer, dict) else None
    return kid if isinstance(kid, str) else ""


def verify(token: str, trusted: dict[str, object], *, city: str | None = None) -> VerifiedLicence:
    """Check ``token`` against the ``trusted`` keys (``{key id: key}``, see
    :func:`.keys.trusted_keys`) and, when given, that it is for ``city``; returns the document
    or raises :class:`LicenceRefused` (codes in the module docstring). Dates are not judged
    here: an expired licence verifies (its state says what it allows)."""
    token = (token or "").strip()
    if not token.startswith(HEADER) or len(token) > 8192:
        raise malformed("不是 v4.public 令牌", "not a v4.public token")
    kid = _footer_key_id(token)
    if kid:
        if kid not in trusted:
            raise LicenceRefused(
                "licence_foreign_key",
                f"许可证由本平台不信任的密钥签发（{kid}），已拒绝。",
                f"the licence was signed by a key this platform does not trust ({kid})", key_id=kid,
            )
        candidates = [(kid, trusted[kid])]
    else:  # a token without a key id: whichever trusted key verifies it
        candidates = list(trusted.items())
        if not candidates:
            raise LicenceRefused("licence_foreign_key", "本平台没有配置可信的许可证公钥，无法验证。",
                                 "this platform trusts no licence key (set GUAHAO_LICENCE_PUBLIC_KEYS)")
    decoded, signer = None, ""
    for key_id, key in candidates:
        try:
            decoded = pyseto.decode(key, token, implicit_assertion=IMPLICIT, deserializer=json)
        except VerifyError:
            continue
        except ValueError:
            raise malformed("无法解析", "cannot be parsed") from None
        signer = key_id
        break
    if decoded is None:
        raise LicenceRefused(
            "licence_tampered", "许可证签名与内容不符（内容在签发后被改动，或并非由可信密钥签发），已拒绝。",
            "the licence's signature does not match its content: it was altered after signing or not signed "
            "by a trusted key",
        )
    document = LicenceDocument.from_claims(decoded.payload)
    if city is not None and document.city != city:
        raise LicenceRefused(
            "licence_wrong_city", f"这是城市“{document.city}”的许可证，不能用于“{city}”。",
            f"this licence is for the city {document.city!r}, not {city!r}", licence_city=document.city,
        )
    return VerifiedLicence(document, signer, token)


def expired_refusal(document: LicenceDocument, today: date) -> LicenceRefused:
    return LicenceRefused(
        "licence_expired",
        f"许可证已于 {document.valid_until} 到期，宽限期至 {document.grace_until} 也已结束，不能安装。",
        f"the licence expired on {document.valid_until} and its grace ended on {document.grace_until}; "
        "it cannot be installed", valid_until=document.valid_until.isoformat(),
    )
