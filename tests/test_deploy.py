"""The images and manifests operators use: Dockerfiles lint clean, manifests render and validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfiles_and_kubernetes_manifests_pass_the_deploy_check():
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "check.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok\n") == 5  # the five Dockerfiles
    assert "kubernetes production: 16 resources, schema ok" in result.stdout
