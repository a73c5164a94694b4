"""``guahao licence keygen → sign → install → status --json → revoke``, and the refusals: each a
one-line message and exit code 1."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest

from guahao.core.cli import main
from guahao.licensing.licences.keys import new_key_pair

STRANGER = new_key_pair()


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_DATA_KEY", settings.data_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("GUAHAO_LICENCE_REQUIRED", raising=False)
    return monkeypatch


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_keygen_sign_install_status_revoke(env, tmp_path, capsys):
    keys = tmp_path / "vendor"
    assert main(["licence", "keygen", "--out", str(keys)]) == 0
    out = capsys.readouterr().out
    paserk = next(line.split(": ", 1)[1] for line in out.splitlines() if "PASERK" in line)
    key_id = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("key id"))
    private, public = keys / "licence-signing.private.pem", keys / "licence-signing.public.pem"
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----") and paserk.startswith("k4.public.")
    before = private.read_text()
    assert main(["licence", "keygen", "--out", str(keys)]) == 1  # never overwrites
    assert "exists already" in _one_error_line(capsys) and private.read_text() == before
    env.setenv("GUAHAO_LICENCE_PUBLIC_KEYS", str(public))  # a file of public keys, as operators may give it

    slug = f"lic{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "授权市"]) == 0
    until = date.today() + timedelta(days=200)
    licence = tmp_path / "city.licence"
    assert main(["licence", "sign", "--key", str(private), "--city", slug, "--until", until.isoformat(),
                 "--operator", "授权市卫健委", "--model", "revenue_share", "--max-hospitals", "20",
                 "--max-bookings-per-month", "50000", "--channels", "web,app", "--grace-days", "15",
                 "--out", str(licence)]) == 0
    capsys.readouterr()
    assert licence.read_text().startswith("v4.public.")

    assert main(["licence", "install", slug, str(licence)]) == 0
    assert "installed licence lic-" in capsys.readouterr().out
    assert main(["licence", "status", slug, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "valid" and status["valid_until"] == until.isoformat()
    assert status["issuer_key_id"] == key_id and status["grace_days"] == 15 and status["operator"] == "授权市卫健委"
    assert status["limits"] == {"max_hospitals": 20, "max_bookings_per_month": 50000, "channels": ["web", "app"]}
    assert status["licence_id"].startswith("lic-") and status["overage"] == [] and status["usage"]["hospitals"] == 0
    assert main(["licence", "status", slug]) == 0
    assert f"{slug}: valid" in capsys.readouterr().out

    # A forged copy: one claim changed after signing.
    token = licence.read_text().strip()
    forged = tmp_path / "forged.licence"
    forged.write_text(token[:30] + ("A" if token[30] != "A" else "B") + token[31:])
    assert main(["licence", "install", slug, str(forged)]) == 1
    assert _one_error_line(capsys).startswith("error: licence refused: 许可证签名与内容不符")
    # Signed by a key the platform does not trust.
    stranger_key = tmp_path / "stranger.pem"
    stranger_key.write_text(STRANGER.private_pem)
    assert main(["licence", "sign", "--key", str(stranger_key), "--city", slug, "--until", until.isoformat(),
                 "--out", str(tmp_path / "stranger.licence")]) == 0
    capsys.readouterr()
    assert main(["licence", "install", slug, str(tmp_path / "stranger.licence")]) == 1
    assert "does not trust" in _one_error_line(capsys)
    # For another city.
    assert main(["licence", "sign", "--key", str(private), "--city", "elsewhere", "--until", until.isoformat(),
                 "--out", str(tmp_path / "elsewhere.licence")]) == 0
    capsys.readouterr()
    assert main(["licence", "install", slug, str(tmp_path / "elsewhere.licence")]) == 1
    assert "'elsewhere', not" in _one_error_line(capsys)
    assert main(["licence", "install", slug, str(tmp_path / "missing.licence")]) == 1
    assert "cannot read" in _one_error_line(capsys)
    assert main(["licence", "install", "no-such-city", str(licence)]) == 1
    capsys.readouterr()
    assert main(["licence", "sign", "--key", str(public), "--city", slug, "--until", "2027-12-31"]) == 1
    assert "private key" in _one_error_line(capsys)
    assert main(["licence", "sign", "--key", str(private), "--city", slug, "--until", "2027-13-40"]) == 1
    capsys.readouterr()

    assert main(["licence", "revoke", slug, "--reason", "合同终止"]) == 0
    assert "revoked lic-" in capsys.readouterr().out
    assert main(["licence", "status", slug, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "unlicensed"
    assert main(["licence", "revoke", slug]) == 1
    assert "has no unrevoked licence" in _one_error_line(capsys)


def test_sign_prints_the_token_without_out(env, tmp_path, capsys):
    key = tmp_path / "k.pem"
    key.write_text(STRANGER.private_pem)
    assert main(["licence", "sign", "--key", str(key), "--city", "demo", "--from", "2026-01-01",
                 "--until", "2026-12-31"]) == 0
    assert capsys.readouterr().out.strip().startswith("v4.public.")
