"""Settings: a bad or missing variable stops start-up with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from socle.config import ServiceSettings, load_settings


class NeedsSecret(ServiceSettings):
    webhook_secret: str
    max_amount: int = 100


def test_missing_setting_names_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("SOCLE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        load_settings(NeedsSecret)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["configuration error: SOCLE_WEBHOOK_SECRET: Field required"]


def test_malformed_setting_says_what_is_expected(monkeypatch, capsys):
    monkeypatch.setenv("SOCLE_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("SOCLE_MAX_AMOUNT", "lots")
    with pytest.raises(SystemExit):
        load_settings(NeedsSecret)
    err = capsys.readouterr().err
    assert "SOCLE_MAX_AMOUNT" in err
    assert "valid integer" in err


def test_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("SOCLE_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("SOCLE_MAX_AMOUNT", "5")
    assert load_settings(NeedsSecret).max_amount == 5


def test_service_refuses_a_taken_port(nats_server):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "socle_storage", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"SOCLE_NATS_URL": nats_server.url, "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"socle-storage: port {port} on 127.0.0.1 is taken: stop what uses it or choose "
        "another with --port"
    )
