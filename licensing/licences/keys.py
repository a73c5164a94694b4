"""The vendor's Ed25519 keys: making a pair, reading one, and which public keys a platform trusts.

The vendor keeps the private key offline and signs licences with it; a platform holds public
keys only (``GUAHAO_LICENCE_PUBLIC_KEYS``: PEM or PASERK ``k4.public.…``). A key is named by
its PASERK id (``k4.pid.…``), which a licence carries in its footer.

The demo key pair in ``licensing/demo_keys/`` signs the demo city's licence. Its public key is
trusted only by the embedded demo (``not settings.production``), never by a production server,
where a demo-signed licence is refused like any foreign one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyseto
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("guahao.licensing")

DEMO_KEYS = Path(__file__).resolve().parent.parent / "demo_keys"
DEMO_PRIVATE = DEMO_KEYS / "demo-licence-signing.private.pem"
DEMO_PUBLIC = DEMO_KEYS / "demo-licence-signing.public.pem"
PRIVATE_NAME = "licence-signing.private.pem"
PUBLIC_NAME = "licence-signing.public.pem"


class KeyProblem(ValueError):
    """A key file or setting that is not an Ed25519 key of the expected kind."""


@dataclass(frozen=True)
class KeyPair:
    """A new pair as text: ``private_pem`` (PKCS#8), ``public_pem``, ``public_paserk`` and ``key_id``."""

    private_pem: str
    public_pem: str
    public_paserk: str
    key_id: str


def new_key_pair() -> KeyPair:
    """A fresh Ed25519 pair."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    public = pyseto.Key.new(version=4, purpose="public", key=public_pem)
    return KeyPair(private_pem, public_pem, public.to_paserk(), public.to_paserk_id())


def write_key_pair(directory: Path) -> tuple[Path, Path, KeyPair]:
    """Write a new pair into ``directory`` (made if missing): the private key readable by its
    owner only. Refuses (``FileExistsError``) when either file is already there."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(str(path))
    pair = new_key_pair()
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(pair.private_pem)
    public_path.write_text(pair.public_pem, encoding="ascii")
    return private_path, public_path, pair


def signing_key(text: str):
    """The pyseto signing key of a private key (PEM, or PASERK ``k4.secret.…``)."""
    text = text.strip()
    try:
        if text.startswith("k4.secret."):
            key = pyseto.Key.from_paserk(text)
        else:
            key = pyseto.Key.new(version=4, purpose="public", key=text)
    except Exception as exc:  # pyseto and cryptography raise several kinds
        raise KeyProblem(f"not an Ed25519 private key ({exc})") from None
    if not key.is_secret:
        raise KeyProblem("this is a public key; signing needs the private key")
    return key


def public_key(text: str):
    """The pyseto verifying key of a public key (PEM, or PASERK ``k4.public.…``)."""
    text = text.strip()
    try:
        if text.startswith("k4."):
            key = pyseto.Key.from_paserk(text)
        else:
            key = pyseto.Key.new(version=4, purpose="public", key=text)
    except Exception as exc:
        raise KeyProblem(f"not an Ed25519 public key ({exc})") from None
    if key.is_secret or key.purpose != "public" or key.version != 4:
        raise KeyProblem("not a v4 public key")
    return key


def key_id_of_signer(key) -> str:
    """The PASERK id of the public half of a signing key."""
    return key.to_peer_paserk_id()


@lru_cache(maxsize=1)
def demo_public_key():
    return public_key(DEMO_PUBLIC.read_text(encoding="ascii"))


def demo_private_pem() -> str:
    return DEMO_PRIVATE.read_text(encoding="ascii")


@lru_cache(maxsize=32)
def _configured(texts: tuple[str, ...]) -> tuple:
    keys = []
    for text in texts:
        try:
            keys.append(public_key(text))
        except KeyProblem as exc:
            log.error("GUAHAO_LICENCE_PUBLIC_KEYS holds a key that is not used: %s", exc)
    return tuple(keys)


def trusted_keys(settings) -> dict[str, object]:
    """``{key id: key}`` the platform verifies licences with: the configured public keys, and
    the demo key when this is the embedded demo (never in production)."""
    keys = {k.to_paserk_id(): k for k in _configured(tuple(settings.licence_public_keys))}
    if not settings.production:
        demo = demo_public_key()
        keys.setdefault(demo.to_paserk_id(), demo)
    return keys


def demo_key_id() -> str:
    return demo_public_key().to_paserk_id()
