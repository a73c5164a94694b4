"""The server's access log never keeps a phone or ID number that a query string carried (the
console's searches use POST; an old link or a typed URL may still carry one)."""

from __future__ import annotations

import logging

from guahao.core.observability import AccessLogScrubber

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access line


def _record(path: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, ACCESS_FORMAT,
                             ("203.0.113.9:5120", "GET", path, "1.1", 200), None)


def test_phone_and_id_numbers_in_a_query_string_are_masked():
    record = _record("/console/c/hz/agent?q=13800138000&id=110105199003070017&page=2")
    assert AccessLogScrubber().filter(record) is True
    line = record.getMessage()
    assert "13800138000" not in line and "110105199003070017" not in line
    assert line.startswith('203.0.113.9:5120 - "GET /console/c/hz/agent?q=') and "page=2" in line and line.endswith(" 200")


def test_lines_without_personal_data_are_unchanged():
    record = _record("/c/hz/doctors/12?date=2026-03-01")
    AccessLogScrubber().filter(record)
    assert record.getMessage() == '203.0.113.9:5120 - "GET /c/hz/doctors/12?date=2026-03-01 HTTP/1.1" 200'


def test_the_app_installs_the_scrubber_once(app):
    from guahao.core.app import create_app

    create_app(app.state.rt.settings, runtime=app.state.rt)
    scrubbers = [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, AccessLogScrubber)]
    assert len(scrubbers) == 1
