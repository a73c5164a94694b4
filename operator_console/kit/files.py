"""Files the console hands out (exports, invoices): the download header."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str, fallback: str) -> str:
    """An attachment header with the UTF-8 name (RFC 6266) and an ASCII fallback."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
