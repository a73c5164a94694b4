"""Dashboards over ``core.reports`` (health bureau, city, a hospital's own figures), each held to
the viewer's region: tables, ECharts charts and CSV/XLSX exports.
"""
