"""Daily payment reconciliation (R6.4): each provider's statement of a day matched line by line
with the payments and refunds the platform recorded, and every difference kept for the city's
finance page.

- ``lines``: statement rows as ``StatementLine`` (the WeChat Pay and Alipay rows mapped);
- ``platform``: the platform's payments and refunds of a day, from the booking events;
- ``matching``: the line-by-line matching and the day's totals;
- ``service``: :func:`reconcile` (a run, stored; re-running replaces the day's open
  mismatches), :func:`resolve`, :func:`statement_providers`;
- ``requery``: ask the provider about a mismatch's booking now (:func:`requery`);
- ``planning``: the daily job that asks for yesterday's reconciliation of every provider.
"""

from .matching import Found, Outcome, match
from .service import (
    RunReport,
    StatementFailed,
    mismatch_in_scope,
    reconcile,
    resolve,
    statement_providers,
    supports_statements,
)

__all__ = [
    "Found",
    "Outcome",
    "RunReport",
    "StatementFailed",
    "match",
    "mismatch_in_scope",
    "reconcile",
    "resolve",
    "statement_providers",
    "supports_statements",
]
