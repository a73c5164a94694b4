"""Hospital information systems, the platform's side of the exchange that is not a push
(R2.6, R4.1, R7): schedules pulled into sessions (``schedules``), pulls recorded as runs and
requested through the outbox (``sync``), status and degradation (``status``), and the
reconciliation of a day (``reconcile``). See ``docs/his-sync.md``.
"""

from .jobs import register

register()
