"""Encryption at rest for personal data and plugin secrets, and keyed lookup hashes.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``). Lookups
of encrypted values (an ID number at login) go through an HMAC-SHA256 keyed hash, so the
database never holds a plain or a plainly hashed ID number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DataCipher:
    """Encrypts, decrypts and hashes personal data with keys derived from one master key."""

    def __init__(self, master_key: str):
        if not master_key:
            raise ValueError("a master key is required")
        raw = master_key.encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(self._derive(raw, b"guahao-encrypt")))
        self._hash_key = self._derive(raw, b"guahao-lookup-hash")

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
        return hmac.new(self._hash_key, plain.encode(), hashlib.sha256).hexdigest()


_cipher: DataCipher | None = None


def configure_cipher(master_key: str) -> DataCipher:
    global _cipher
    _cipher = DataCipher(master_key)
    return _cipher


def cipher() -> DataCipher:
    if _cipher is None:
        raise RuntimeError("data cipher not configured: create the app or call configure_cipher()")
    return _cipher
