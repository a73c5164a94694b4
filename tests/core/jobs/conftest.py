"""Fixtures for these tests."""

from tests.core.plugins.probes import register_plugin  # noqa: F401 (fixture)
