"""The demo city 示例市: a realistic, deterministic catalogue and fortnight of schedules."""

from .seed import DEMO_SEED, SeedReport, demo_logins, drop_city, seed_demo

__all__ = ["DEMO_SEED", "SeedReport", "demo_logins", "drop_city", "seed_demo"]
