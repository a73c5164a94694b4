"""The ``alipay`` entry point for an environment installed before it was added to
pyproject.toml (``make install`` refreshes the installed metadata, after which this does
nothing): a distribution folder that declares only that entry point, found on ``sys.path``
the way an installed package's metadata is."""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from importlib.metadata import entry_points
from pathlib import Path

NAME, TARGET = "alipay", "guahao.plugins.payments.alipay"


def missing() -> bool:
    return not any(ep.name == NAME for ep in entry_points(group="guahao"))


def metadata_folder() -> str:
    """A folder holding ``guahao_alipay_entry_point-0.dist-info``, removed when the process ends."""
    root = Path(tempfile.mkdtemp(prefix="guahao-alipay-ep-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    info = root / "guahao_alipay_entry_point-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: guahao-alipay-entry-point\nVersion: 0\n")
    (info / "entry_points.txt").write_text(f"[guahao]\n{NAME} = {TARGET}\n")
    return str(root)


def offer_in_this_process() -> None:
    """Make the plugin discoverable here when the installed metadata lacks it."""
    if not missing():
        return
    from guahao.core.plugins import loader

    sys.path.append(metadata_folder())
    importlib.invalidate_caches()
    loader.discover(refresh=True)


def environment_for_subprocess(env: dict) -> None:
    """Let a child process (``guahao serve``) find the plugin too."""
    if missing():
        folder = metadata_folder()
        env["PYTHONPATH"] = folder + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
