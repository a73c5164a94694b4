"""The demo city 示例市: a realistic, deterministic catalogue and fortnight of schedules."""

from .seed import DEMO_SEED, SeedReport, demo_logins, drop_city, seed_demo
from .staff import demo_staff_logins

__all__ = ["DEMO_SEED", "SeedReport", "demo_logins", "demo_staff_logins", "drop_city", "seed_demo"]
