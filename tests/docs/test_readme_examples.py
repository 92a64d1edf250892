"""The shell examples of README.md and of every service README run as written, in order,
against the platform ``make run`` starts (conftest.py: its launcher on free ports, in a
temporary folder that is the examples' working directory)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.examples import script, shell_blocks
from tests.support.platform import ROOT, Platform

READMES = [ROOT / "README.md", *sorted((ROOT / "services").glob("*/README.md"))]

# What a reader sees when the examples work (beyond each block exiting 0).
KEY_OUTPUTS: dict[str, list[str]] = {
    "README.md": ['{"items":[', "identity: ok", "payment: ok", "(code head", "demo"],
    "services/identity/README.md": [
        '"issuer":"http://localhost:',
        '"client_secret":"',
        '"email":"clerk@demo.example"',
        '"active":true',
        '"id_token":"',
    ],
    "services/notify/README.md": [
        '"missing_placeholders":["reference","amount_display"]',
        '"status":"delivered"',
        "verified payment.succeeded",
        "verified notification.delivered",
        '"status":"cancelled"',
    ],
    "services/payment/README.md": [
        '"status":"succeeded"',
        '"status":"partially_refunded"',
        '"matched":1',
        "PARK-7",
        "socle.demo.payment.succeeded",
    ],
    "services/procedures/README.md": ['"state":"draft"', "invalid-answers", "\n422\n"],
    "services/storage/README.md": [
        "\n206\n",
        "\n304\n",
        '"procedure":"parking-permit-7"',
        "purged 1 documents",
        "\n404\n",
    ],
}


def test_every_readme_is_covered():
    assert {str(p.relative_to(ROOT)) for p in READMES} == set(KEY_OUTPUTS)
    for readme in READMES:
        assert shell_blocks(readme), f"{readme} has no example that runs"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_examples_run_as_written(readme: Path, platform: Platform):
    blocks = shell_blocks(readme)
    done = subprocess.run(
        ["bash", "-c", script(blocks, ROOT)],
        cwd=platform.var.parent,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    report = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    expected = list(KEY_OUTPUTS[str(readme.relative_to(ROOT))])
    if readme.parent.name == "identity":  # the URL in use, not the default port
        identity = f"http://localhost:{platform.ports['IDENTITY']}"
        expected.append(f'"redirect_uri": "{identity}/federation/callback"')
    for text in expected:
        assert text in done.stdout, f"{text!r} not in the output\n{report}"


def test_what_make_run_prints_and_writes_names_the_ports_in_use(platform: Platform):
    ports = platform.ports
    url = {part: f"http://localhost:{ports[part]}" for part in ports}
    env = dict(
        line.split("=", 1)
        for line in (platform.var / "dev-env.sh").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for part in ("IDENTITY", "PAYMENT", "STORAGE", "NOTIFY", "PROCEDURES"):
        assert env[f"{part}_URL"] == url[part]
        assert f"{url[part]}/docs" in "".join(platform.output)
    assert env["NATS_URL"] == f"nats://127.0.0.1:{ports['NATS']}"
    credentials = json.loads((platform.var / "dev-credentials.json").read_text())
    assert credentials["issuer"] == url["IDENTITY"]
    assert credentials["client"]["token_endpoint"] == f"{url['IDENTITY']}/token"
    assert credentials["client"]["redirect_uri"] == f"{url['PROCEDURES']}/auth/callback"
    storage = (platform.var / "storage.env").read_text()
    assert f"SOCLE_S3_ENDPOINT=http://127.0.0.1:{ports['S3']}\n" in storage
