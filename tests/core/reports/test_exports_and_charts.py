"""CSV and XLSX exports open and hold the numbers; chart options match the rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from guahao.core.reports import REPORTS, ReportFilter, bookings_report, to_csv, to_xlsx
from guahao.operator_console.reports.charts import report_option
from guahao.tenants.context import use_city

from .dataset import build


@pytest.fixture
async def data(rt, city):
    return await build(rt, city)


async def _report(rt, data, report=bookings_report, group_by="hospital"):
    f = ReportFilter(date_from=data.past - timedelta(days=1), date_to=data.future, group_by=group_by)
    with use_city(data.city):
        async with rt.db.transaction() as s:
            return await report(s, f)


async def test_csv_has_bom_header_rows_and_totals(rt, data):
    rep = await _report(rt, data)
    raw = to_csv(rep)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:2] == ["医院 / Hospital", "预约总数 / Bookings"]
    assert rows[1][:2] == ["第一人民医院", "8"] and rows[-1][:2] == ["合计", "14"]


async def test_xlsx_opens_with_bold_header_and_numbers(rt, data):
    rep = await _report(rt, data)
    wb = load_workbook(io.BytesIO(to_xlsx(rep)))
    ws = wb.active
    assert ws.title == "患者预约信息报表"
    header = [c.value for c in ws[2]]
    assert header[0] == "医院 / Hospital" and all(c.font.bold for c in ws[2])
    assert [ws.cell(3, 1).value, ws.cell(3, 2).value] == ["第一人民医院", 8]
    assert isinstance(ws.cell(3, 2).value, int)
    rate = header.index("爽约率 / No-show rate") + 1
    assert ws.cell(5, rate).value == 0.375 and ws.cell(5, rate).number_format == "0.0%"
    assert ws.cell(5, 1).value == "合计" and ws.cell(5, 1).font.bold
    assert ws.column_dimensions["A"].width >= 14


@pytest.mark.parametrize("name", sorted(REPORTS))
async def test_every_report_exports_and_charts(rt, data, name):
    rep = await _report(rt, data, REPORTS[name])
    assert load_workbook(io.BytesIO(to_xlsx(rep))).active.max_row == len(rep.rows) + 3
    option = report_option(rep)
    assert option["series"]
    for series in option["series"]:
        assert len(series["data"]) == len(rep.rows)
    axis = option["xAxis"] if option["xAxis"].get("type") == "category" else option["yAxis"]
    assert axis["data"] == [r["label"] for r in rep.rows]


async def test_chart_series_follow_the_rows(rt, data):
    rep = await _report(rt, data, group_by="channel")
    option = report_option(rep, lang="en")
    names = [s["name"] for s in option["series"]]
    assert names[:2] == ["Confirmed", "Checked in"] and option["series"][0]["stack"] == "total"
    checked = option["series"][1]["data"]
    assert checked == [r["checked_in"] for r in rep.rows]
    assert option["xAxis"]["data"][:2] == ["Web", "App"]
    rates = await _report(rt, data, REPORTS["no_show"])
    opt = report_option(rates)
    assert opt["series"][-1]["yAxisIndex"] == 1 and opt["series"][-1]["data"] == [33.3, 50.0]
