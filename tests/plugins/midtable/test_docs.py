"""docs/his-midtable.md describes every column of docs/his-midtable.sql, and its SQL examples are
what a hospital can run: run in order on a fresh database, the platform reads what they say."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from guahao.plugins.his.midtable import MidtableHis
from guahao.plugins.his.midtable.simulator import DDL, SimulatedHospital, statements

from .conftest import MARIADB, settings_for

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "his-midtable.md"


def columns() -> dict[str, list[str]]:
    """``{table: [column, …]}`` of the DDL's CREATE TABLE statements (not the sequences)."""
    out = {}
    for stmt in statements(DDL.read_text(encoding="utf-8")):
        m = re.match(r"CREATE TABLE (\w+) \((.*)\)", stmt, re.S)
        if m and not m.group(1).endswith("_seq"):
            out[m.group(1)] = [c.group(1) for c in re.finditer(r"^\s+(\w+)\s+(?:BIGINT|VARCHAR|SMALLINT|DATE|TIME|INT)",
                                                              m.group(2), re.M)]
    return out


def test_every_column_is_described():
    doc = DOC.read_text(encoding="utf-8")
    found = columns()
    assert set(found) == {"mt_schedule", "mt_visit", "mt_fee_item", "mt_request"}
    for table, cols in found.items():
        section = doc.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        missing = [c for c in cols if f"`{c}`" not in section]
        assert not missing, f"{table}: columns not described in {DOC.name}: {missing}"


async def test_the_examples_run_and_the_platform_reads_them(his):
    doc = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", doc, re.S)
    assert len(blocks) == 5
    adapter, settings, code = MidtableHis(), settings_for(his.sim), "H1"
    day = date(2026, 3, 10)

    await his.sim.execute(blocks[0])
    [item] = await adapter.pull_schedules(his.city, code, day, day, settings, {})
    assert (item.doctor_code, item.half_day, item.fee_fen, item.status, item.reference) == (
        "D12", "am", 5000, "open", "PB20260310-012-AM")
    assert item.periods == [{"start": "08:00", "end": "09:00", "pools": {"public": 10, "onsite": 2}},
                            {"start": "09:00", "end": "10:00", "pools": {"public": 10, "onsite": 2}}]

    await his.sim.execute(blocks[1])
    [stopped] = await adapter.pull_schedules(his.city, code, day, day, settings, {})
    assert (stopped.status, stopped.reason, stopped.periods) == ("suspended", "医生外出会诊", [])

    for stmt in statements(blocks[2]):
        await his.sim.execute(stmt)  # no requests yet: the statements run and touch nothing

    await his.sim.execute(blocks[3])
    visits = await adapter.pull_visit_status(his.city, code, day, settings, {})
    assert {(v.booking_id, v.outcome) for v in visits} == {("QXZS3-ZBJTZ", "checked_in"), ("KD8A2-LM3QP", "no_show")}

    for stmt in statements(blocks[4]):
        await his.sim.execute(stmt)
    [fee] = await adapter.pull_fee_items(his.city, code, {"id_number": "110105198504121234"}, settings, {})
    assert (fee.item_id, fee.kind, fee.amount_fen, fee.quantity, fee.booking_id) == ("SF-88001", "drug", 2350, "2盒",
                                                                                      "QXZS3-ZBJTZ")


async def test_the_ddl_under_another_prefix(his):
    async with SimulatedHospital.fresh(**MARIADB, prefix="yy_") as other:
        health = await MidtableHis().health(his.city, settings_for(other, table_prefix="yy_"), {})
        assert health.ok, health.detail
        await other.publish("H1", "S1", doctor_code="D1", day=date(2030, 1, 7), half_day="am",
                            periods=[("08:00", "09:00", 3)])
        items = await MidtableHis().pull_schedules(his.city, "H1", date(2030, 1, 7), date(2030, 1, 7),
                                                   settings_for(other, table_prefix="yy_"), {})
        assert [i.reference for i in items] == ["S1"]
