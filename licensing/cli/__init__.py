"""Licensing's commands, added to ``guahao`` through the entry-point group ``guahao.commands``:
``usage`` (verify, export), ``contract`` (set, show), ``invoice`` (run, finalize, show…) and
``licence`` (keygen, sign, install, status)."""

from __future__ import annotations

from .contract import add_contract_commands
from .invoice import add_invoice_commands
from .licence import add_licence_commands
from .usage import add_usage_commands


def add_commands(subs) -> None:
    add_usage_commands(subs)
    add_contract_commands(subs)
    add_invoice_commands(subs)
    add_licence_commands(subs)
