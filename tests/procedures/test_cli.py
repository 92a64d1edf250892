"""The operator's command: socle-procedures publish FILE --tenant T."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.procedures import EXAMPLES, ROOT


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOCLE_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "socle_procedures", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_publish_an_example_then_again_unchanged(tmp_path, tenant):
    url = f"sqlite+aiosqlite:///{tmp_path / 'procedures.db'}"
    first = run(url, "publish", str(EXAMPLES / "parking-card.yaml"), "--tenant", tenant)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "procedure": "parking-card",
        "version": 1,
        "published": True,
    }
    again = run(url, "publish", str(EXAMPLES / "parking-card.yaml"), "--tenant", tenant)
    assert json.loads(again.stdout) == {
        "procedure": "parking-card",
        "version": 1,
        "published": False,
    }


def test_an_invalid_file_is_refused_with_its_pointers(tmp_path, tenant):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLES / "dog-registration.yaml").read_text().replace("type: yes_no", "type: maybe")
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'procedures.db'}"
    refused = run(url, "publish", str(bad), "--tenant", tenant)
    assert refused.returncode == 1
    assert "/steps/1/fields/4/type" in refused.stderr
