"""The installed platform is one package, ``guahao``: its layers are imported through it only,
so an environment holding guahao gains no generic top-level names (``core``, ``plugins`` …)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "tenants", "plugins", "operator_console", "licensing")


def test_the_whole_platform_loads_without_a_generic_top_level_module():
    code = (
        "import sys, guahao.core.app, guahao.core.cli, guahao.operator_console.app, guahao.plugin_api;"
        "from guahao.core.plugins.loader import discover; discover();"
        "from guahao.core.migrate import version_locations; version_locations();"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({LAYERS!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_module_imports_a_layer_by_its_bare_name():
    bare = [f"{path.relative_to(ROOT)}:{n}" for folder in (*LAYERS, "tests", "bench", "examples")
            for path in (ROOT / folder).rglob("*.py")
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if line.lstrip().startswith(tuple(f"{kw} {layer}" for kw in ("from", "import") for layer in LAYERS))
            and not line.lstrip().startswith(tuple(f"{kw} {layer}_" for kw in ("from", "import") for layer in LAYERS))]
    assert not bare, bare


def test_the_wheel_installs_only_guahao(tmp_path):
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools would reuse what an earlier build left there
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("guahao-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"guahao"}
    assert "guahao/core/app.py" in names and "guahao/plugins/channels/web/templates/base.html" in names
    assert "guahao/plugins/payments/stripe/migrations/0008_stripe_webhook_events.py" in names
    assert "guahao/core/demo/import_files/demo.xlsx" in names
