"""The image's Dockerfile, checked with the rules of hadolint that apply to it (Docker cannot
build on every machine that runs the tests): a pinned slim Python 3.11 base and never
``latest`` (DL3006, DL3007), two stages with the runtime copying only the built environment,
a non-root user last (DL3002), pip without its cache (DL3042), apt only with
``--no-install-recommends`` and its lists removed (DL3015, DL3009), WORKDIR instead of ``cd``
(DL3003), COPY instead of ADD (DL3020), exec-form CMD and ENTRYPOINT (DL3025), a HEALTHCHECK
on /healthz, no secrets baked in; and the build context sends what the package needs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def stages(ins) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for item in ins:
        if item[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(item)
    return out


def build_args(ins) -> dict[str, str]:
    args = {}
    for word, rest in ins:
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k.strip()] = v.strip()
    return args


def base_images(ins) -> list[str]:
    args = build_args(ins)
    images = []
    for word, rest in ins:
        if word == "FROM":
            image = rest.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image))
    return images


@pytest.fixture(scope="module")
def ins():
    return instructions()


def test_the_base_image_is_a_pinned_slim_python_3_11_never_latest(ins):
    images = base_images(ins)
    assert images
    for image in images:
        name, _, tag = image.partition(":")
        assert name == "python", image
        assert tag and "latest" not in tag, f"{image}: pin a version (DL3006/DL3007)"
        assert re.match(r"3\.11\.\d+-slim", tag), f"{image}: a full 3.11.x slim tag"


def test_two_stages_and_the_runtime_copies_only_the_built_environment(ins):
    parts = stages(ins)
    assert len(parts) >= 2
    names = [p[0][1].split()[-1] for p in parts]
    assert all(" AS " in p[0][1].upper() for p in parts), "name every stage"
    runtime = parts[-1]
    copies = [rest for word, rest in runtime if word == "COPY"]
    assert copies and all(c.startswith(f"--from={names[0]} ") for c in copies), copies
    assert not any(word == "RUN" and "pip install" in rest for word, rest in runtime), "install in the build stage"


def test_the_last_user_is_not_root(ins):
    runtime = stages(ins)[-1]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users, "the runtime stage sets a USER (DL3002)"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, (w, _) in enumerate(runtime) if w == "USER")
    assert all(w != "RUN" for w, _ in runtime[last_user:]), "nothing runs as root after USER"


def test_pip_never_keeps_its_cache_and_apt_is_lean(ins):
    runs = [rest for word, rest in ins if word == "RUN"]
    for cmd in runs:
        for part in re.split(r"&&|;", cmd):
            if re.search(r"\bpip3? install\b", part):
                assert "--no-cache-dir" in part, part  # DL3042
                for token in shlex.split(part)[shlex.split(part).index("install") + 1:]:
                    if not token.startswith("-") and token not in (".",) and not token.endswith(".txt"):
                        assert "==" in token, f"pin {token} (DL3013)"
            if re.search(r"\bapt-get install\b", part):
                assert "--no-install-recommends" in part and "-y" in part, part  # DL3015, DL3014
                assert "rm -rf /var/lib/apt/lists" in cmd, cmd  # DL3009
        assert not re.search(r"(^|&&|;)\s*cd\s", cmd), f"use WORKDIR, not cd (DL3003): {cmd}"
        assert "sudo " not in cmd, cmd  # DL3004
        assert "apt-get upgrade" not in cmd and "dist-upgrade" not in cmd, cmd  # DL3005


def test_copy_not_add_exec_form_commands_and_a_healthcheck_on_healthz(ins):
    assert not [rest for word, rest in ins if word == "ADD"], "COPY instead of ADD (DL3020)"
    runtime = stages(ins)[-1]
    words = {w for w, _ in runtime}
    assert {"ENTRYPOINT", "CMD", "HEALTHCHECK", "EXPOSE"} <= words
    entry = next(rest for w, rest in runtime if w == "ENTRYPOINT")
    cmd = next(rest for w, rest in runtime if w == "CMD")
    assert entry.startswith("[") and cmd.startswith("["), "exec form (DL3025)"
    assert entry == '["guahao"]' and cmd.startswith('["serve", "--host", "0.0.0.0"')
    health = next(rest for w, rest in runtime if w == "HEALTHCHECK")
    assert "/healthz" in health and "--interval=" in health and "--timeout=" in health


def test_no_secret_is_baked_into_the_image(ins):
    for word, rest in ins:
        if word in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|_KEY\b|_KEYS|DSN|DATABASE_URL)", rest, re.I), rest


def test_the_build_context_holds_every_folder_the_package_links_to(ins):
    copied = set()
    for word, rest in ins:
        if word == "COPY" and not rest.startswith("--from"):
            copied.update(rest.split()[:-1])
    for link in (ROOT / "guahao").iterdir():
        if link.is_symlink():
            target = (ROOT / "guahao" / link.readlink()).resolve().relative_to(ROOT)
            assert str(target) in copied, f"guahao/{link.name} → {target}: COPY it"
    assert {"pyproject.toml", "README.md", "guahao"} <= copied
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", "var", "*.sqlite3"} <= ignored
    assert not copied & ignored, "a COPY of an ignored path sends nothing"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_healthcheck_passes_against_a_running_app_and_fails_without_one(ins, tmp_path):
    """The image's HEALTHCHECK command itself, run against `guahao serve` on this machine."""
    import json
    import os
    import subprocess
    import sys
    import time

    health = next(rest for w, rest in stages(ins)[-1] if w == "HEALTHCHECK")
    argv = json.loads(health[health.index("CMD") + 3:].strip())
    assert argv[0] == "python"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.sqlite3", "PORT": str(port)}
    for name in ("REDIS_URL", "DATABASE_APP_URL", "DATABASE_PLATFORM_URL", "GUAHAO_ENV"):
        env.pop(name, None)
    bin_dir = Path(sys.executable).parent
    check = [sys.executable, *argv[1:]]
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0  # nothing listens
    subprocess.run([bin_dir / "guahao", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([bin_dir / "guahao", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(check, env=env, capture_output=True, timeout=30)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done.returncode == 0, done.stderr.decode()[-500:]
    finally:
        server.terminate()
        server.wait(timeout=30)
