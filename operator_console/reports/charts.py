"""Reports as Apache ECharts options (R13.8): pure functions from a
:class:`core.reports.Report` to the option dict the console hands to ``echarts.setOption``.

The chart follows the report's :class:`~core.reports.ChartHint`: one series per counted
column over the report's rows (bars, stacked bars or lines), and rates as lines on a
second axis in percent. Labels are zh-CN by default, English with ``lang="en"``.
"""

from __future__ import annotations

from typing import Any

from guahao.core.reports import Report

# Okabe–Ito colours, told apart with the common colour-vision deficiencies: blue, bluish green,
# vermillion, grey, orange, reddish purple, sky blue.
PALETTE = ["#0072b2", "#009e73", "#d55e00", "#999999", "#e69f00", "#cc79a7", "#56b4e9"]
# Booking outcomes keep one colour in every report (visits green, no-shows vermillion, …).
OUTCOME_COLOURS = {"confirmed": "#0072b2", "upcoming": "#0072b2", "checked_in": "#009e73", "no_show": "#d55e00",
                   "cancelled": "#999999", "pending": "#e69f00", "expired": "#cc79a7"}


def _name(report: Report, key: str, lang: str) -> str:
    column = report.column(key)
    return column.en if lang == "en" else column.zh


def report_option(report: Report, *, lang: str = "zh") -> dict[str, Any]:
    """The ECharts option for ``report``; every series has one value per row."""
    hint = report.chart
    categories = [r["label_en"] if lang == "en" else r["label"] for r in report.rows]
    series: list[dict[str, Any]] = []
    for key in hint.series:
        item: dict[str, Any] = {
            "name": _name(report, key, lang),
            "type": "line" if hint.kind == "line" else "bar",
            "data": [r.get(key) for r in report.rows],
        }
        if hint.kind == "stacked_bar":
            item["stack"] = "total"
        if key in OUTCOME_COLOURS and hint.kind != "line":
            item["color"] = OUTCOME_COLOURS[key]
        if hint.kind == "line":
            item["smooth"] = True
            item["showSymbol"] = len(categories) <= 31
        series.append(item)
    for key in hint.rates:
        series.append({
            "name": _name(report, key, lang),
            "type": "line",
            "yAxisIndex": 1,
            "data": [None if r.get(key) is None else round(r[key] * 100, 1) for r in report.rows],
            "tooltip": {"valueFormatter": "{value}%"},
        })
    y_axes: list[dict[str, Any]] = [{"type": "value"}]
    if hint.rates:
        y_axes.append({"type": "value", "axisLabel": {"formatter": "{value}%"}, "splitLine": {"show": False}})
    horizontal = hint.kind != "line" and len(categories) > 12
    every_label = not horizontal and len(categories) <= 16  # more: ECharts thins them out
    category_axis = {
        "type": "category",
        "data": categories,
        "axisLabel": {"interval": 0, "width": 96, "overflow": "break"} if every_label else {},
    }
    option: dict[str, Any] = {
        "title": {"text": report.title_en if lang == "en" else report.title_zh, "left": "center"},
        "color": PALETTE,
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 28, "data": [s["name"] for s in series]},
        "grid": {"top": 70, "left": 12, "right": 12, "bottom": 12, "containLabel": True},
        "series": series,
    }
    if horizontal:  # many hospitals or doctors read better as horizontal bars
        category_axis["inverse"] = True
        option["yAxis"] = category_axis
        option["xAxis"] = y_axes if len(y_axes) > 1 else y_axes[0]
        if len(y_axes) > 1:  # the rate axis along the top
            y_axes[1]["position"] = "top"
        for s in series:
            if s.pop("yAxisIndex", None):
                s["xAxisIndex"] = 1
    else:
        option["xAxis"] = category_axis
        option["yAxis"] = y_axes if len(y_axes) > 1 else y_axes[0]
    if len(categories) > 31 and not horizontal:
        option["dataZoom"] = [{"type": "inside"}, {"type": "slider", "bottom": 0, "height": 22}]
        option["grid"]["bottom"] = 36  # room for the slider under the axis labels
    return option
