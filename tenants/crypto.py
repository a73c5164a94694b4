"""Encryption at rest for personal data and plugin secrets, and keyed lookup hashes.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``). Lookups
of encrypted values (an ID number at login) go through an HMAC-SHA256 keyed hash, so the
database never holds a plain or a plainly hashed ID number.

Keys rotate: the cipher is built from a list of master keys. The first encrypts and hashes;
every one decrypts (``MultiFernet``) and :meth:`DataCipher.lookup_hashes` gives the hash under
each, so values written before a rotation are still read and found.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DataCipher:
    """Encrypts, decrypts and hashes personal data with keys derived from master keys.

    Parameters:
        master_keys: one key, or the current key followed by earlier ones (decrypt only).
    """

    def __init__(self, master_keys: str | Sequence[str]):
        keys = [master_keys] if isinstance(master_keys, str) else list(master_keys)
        if not keys or not all(keys):
            raise ValueError("a master key is required")
        raw = [k.encode() for k in keys]
        self._fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(self._derive(r, b"guahao-encrypt"))) for r in raw])
        self._hash_keys = [self._derive(r, b"guahao-lookup-hash") for r in raw]

    @staticmethod
    def _derive(raw: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"guahao", info=info).derive(raw)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # wrong key or tampered value
            raise ValueError("cannot decrypt value: wrong key or tampered data") from exc

    def lookup_hash(self, plain: str) -> str:
        """The keyed hash under the current key (what new rows store)."""
        return hmac.new(self._hash_keys[0], plain.encode(), hashlib.sha256).hexdigest()

    def lookup_hashes(self, plain: str) -> list[str]:
        """The keyed hash under every key, current first: a lookup matching any finds rows
        written before a rotation."""
        return [hmac.new(k, plain.encode(), hashlib.sha256).hexdigest() for k in self._hash_keys]


_cipher: DataCipher | None = None


def configure_cipher(master_keys: str | Sequence[str]) -> DataCipher:
    global _cipher
    _cipher = DataCipher(master_keys)
    return _cipher


def cipher() -> DataCipher:
    if _cipher is None:
        raise RuntimeError("data cipher not configured: create the app or call configure_cipher()")
    return _cipher


def seal_secrets(secrets: dict[str, str]) -> str:
    """A plugin's credentials as stored: one encrypted JSON text (empty when there are none)."""
    return cipher().encrypt(json.dumps(secrets)) if secrets else ""


def open_secrets(sealed: str | None) -> dict[str, str]:
    """The credentials :func:`seal_secrets` stored (empty for an empty text)."""
    return json.loads(cipher().decrypt(sealed)) if sealed else {}
