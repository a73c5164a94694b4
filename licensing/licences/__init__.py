"""Signed licence keys (R14.5): what a city's licence allows, verified offline.

The vendor signs a licence (:mod:`.document`) for one city with its Ed25519 private key as a
PASETO v4.public token (:mod:`.signing`); a platform holds the vendor's public keys only
(:mod:`.keys`, ``GUAHAO_LICENCE_PUBLIC_KEYS``). Installed licences are kept per city
(:mod:`.models`); their state today is one pure function (:mod:`.states`); the booking path
reads it from the process's cache (:mod:`.cache`, :mod:`.enforcement`); staff see a banner
(:mod:`.banner`). The commands are ``guahao licence keygen|sign|install|status|revoke``.

What the console calls:

- ``await licence_status(rt, city)`` — state, dates, limits, usage and overage (a dict);
- ``await licence_history(rt, city)`` — every licence installed, revoked ones included;
- ``await install_licence(rt, city, token, actor=...)`` — verify, store, audit;
- ``await revoke_licence(rt, city, actor=..., licence_id=None, reason="")`` — withdraw, audit;
- ``sign(LicenceDocument(...), private_key_pem)`` — the vendor's signing, offline;
- ``await staff_banner(rt, city)`` — the banner of a city's console pages, or ``None``.
"""

from __future__ import annotations

from .banner import Banner, staff_banner
from .document import MODELS, LicenceDocument, LicenceRefused, Limits
from .service import InstallOutcome, LicenceNotFound, install_licence, licence_history, licence_status, revoke_licence
from .signing import VerifiedLicence, sign, verify
from .states import STATES, LicenceState, licence_state

__all__ = [
    "MODELS",
    "STATES",
    "Banner",
    "InstallOutcome",
    "LicenceDocument",
    "LicenceNotFound",
    "LicenceRefused",
    "LicenceState",
    "Limits",
    "VerifiedLicence",
    "install_licence",
    "licence_history",
    "licence_state",
    "licence_status",
    "revoke_licence",
    "sign",
    "staff_banner",
    "verify",
]
