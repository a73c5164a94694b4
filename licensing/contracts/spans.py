"""Cutting a billing period into spans: the days under one contract version each.

A version is in force from its ``effective_from`` until the next version takes effect; of
versions with the same date, the later one (higher number) is in force and the earlier never
was. Days before the first version are under no contract and belong to no span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .terms import Terms, parse_terms


@dataclass(frozen=True)
class Version:
    """A contract version as pricing sees it (the stored row's number, model, date and terms)."""

    version: int
    model: str
    effective_from: date
    terms: Terms

    @classmethod
    def of(cls, row) -> "Version":
        """From a stored :class:`~.models.Contract` (its terms validated again)."""
        return cls(row.version, row.model, row.effective_from, parse_terms(row.model, row.terms))


@dataclass(frozen=True)
class Span:
    """The days ``[start, end)`` of a period under ``version``."""

    start: date
    end: date
    version: Version

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _effective(versions: Sequence[Version]) -> list[Version]:
    """Versions that are ever in force, by date (a same-day later version replaces one)."""
    by_day: dict[date, Version] = {}
    for v in sorted(versions, key=lambda v: (v.effective_from, v.version)):
        by_day[v.effective_from] = v
    return [by_day[d] for d in sorted(by_day)]


def in_force(versions: Sequence[Version], day: date) -> Version | None:
    """The version in force on ``day``."""
    found = None
    for v in _effective(versions):
        if v.effective_from <= day:
            found = v
    return found


def previous(versions: Sequence[Version], span: Span) -> Version | None:
    """The version in force on the day before ``span`` starts."""
    return in_force(versions, span.start - timedelta(days=1))


def split(versions: Sequence[Version], start: date, end: date) -> list[Span]:
    """The spans of ``[start, end)``, in order; empty when no version is in force."""
    spans: list[Span] = []
    effective = _effective(versions)
    for i, v in enumerate(effective):
        until = effective[i + 1].effective_from if i + 1 < len(effective) else end
        lo, hi = max(v.effective_from, start), min(until, end)
        if lo < hi:
            spans.append(Span(lo, hi, v))
    return spans
