"""The platform runtime the plugin's own tables are reached through.

Pulls get it from core (``MidtableHis.attach_runtime``); a call that did not (a fee-item query
from another module) uses the one the plugin's hooks were last called with, else one of its own
made from the environment, once.
"""

from __future__ import annotations

import logging
import weakref

log = logging.getLogger("guahao.plugins.midtable")

_remembered: "weakref.ReferenceType | None" = None
_own = None


def remember(rt) -> None:
    """Keep (weakly) the runtime a hook was called with."""
    global _remembered
    if rt is not None:
        _remembered = weakref.ref(rt)


def current():
    global _own
    found = _remembered() if _remembered is not None else None
    if found is not None:
        return found
    if _own is None:
        from guahao.core.runtime import Runtime
        from guahao.tenants.settings import Settings

        _own = Runtime(Settings.from_env())
        log.info("midtable: no runtime handed over yet; using one of its own for the plugin's tables")
    return _own
