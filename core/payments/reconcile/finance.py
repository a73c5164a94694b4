"""What the finance page shows and exports: a day's reconciliation runs (the totals per
provider, for the city or one hospital) and its mismatches, as rows and as CSV/XLSX."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import PaymentMismatch, ReconciliationRun
from guahao.core.spreadsheets import csv_row, xlsx_append

from .matching import TOTALS

KIND_LABELS = {
    "missing_on_platform": "平台无记录 / Missing on the platform",
    "missing_at_provider": "支付平台无记录 / Missing at the provider",
    "amount_differs": "金额不符 / Amount differs",
    "status_differs": "状态不符 / Status differs",
}
COLUMNS = ("日期 Day", "支付方式 Provider", "差异 Mismatch", "类型 Line", "预约号 Booking", "商户订单号 Our reference",
           "支付平台单号 Provider reference", "支付平台金额（分）Provider fen", "平台金额（分）Platform fen",
           "支付平台状态 Provider status", "平台状态 Platform status", "处理状态 State", "备注 Note")


@dataclass
class ProviderDay:
    """One provider's run of the day, its totals as the viewer may see them."""

    run: ReconciliationRun
    totals: dict[str, int] = field(default_factory=dict)


async def day_runs(s: AsyncSession, day: date, hospital_id: int | None = None) -> list[ProviderDay]:
    """The runs of ``day`` by provider; a hospital's administrator sees its hospital's totals."""
    runs = (await s.scalars(select(ReconciliationRun).where(ReconciliationRun.day == day)
                            .order_by(ReconciliationRun.provider))).all()
    out = []
    for run in runs:
        if hospital_id is None:
            totals = {name: getattr(run, name) for name in TOTALS}
        else:
            totals = {name: int((run.hospitals or {}).get(str(hospital_id), {}).get(name, 0)) for name in TOTALS}
        out.append(ProviderDay(run, totals))
    return out


async def day_mismatches(
    s: AsyncSession, day: date, *, hospital_id: int | None = None, only_open: bool = False
) -> list[PaymentMismatch]:
    """The mismatches of ``day`` (a hospital's only for its administrator), open ones first."""
    q = select(PaymentMismatch).where(PaymentMismatch.day == day)
    if hospital_id is not None:
        q = q.where(PaymentMismatch.hospital_id == hospital_id)
    if only_open:
        q = q.where(PaymentMismatch.status == "open")
    rows = (await s.scalars(q.order_by(PaymentMismatch.provider, PaymentMismatch.id))).all()
    return sorted(rows, key=lambda m: m.status != "open")


def _cells(m: PaymentMismatch) -> list:
    return [m.day.isoformat(), m.provider, KIND_LABELS.get(m.kind, m.kind), m.line_kind, m.booking_id, m.our_ref,
            m.provider_ref, m.provider_amount_fen, m.platform_amount_fen, m.provider_status, m.platform_status,
            m.status, m.note]


def to_csv(rows: list[PaymentMismatch]) -> bytes:
    """The mismatches as CSV (UTF-8 with a BOM, for Excel and WPS)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for m in rows:
        writer.writerow(csv_row(_cells(m)))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: list[PaymentMismatch]) -> bytes:
    """The mismatches as an XLSX workbook of one sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "对账差异"
    xlsx_append(ws, COLUMNS)
    for m in rows:
        xlsx_append(ws, _cells(m))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
