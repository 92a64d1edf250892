"""``make deploy-check``: lint every Dockerfile and validate the rendered Kubernetes manifests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OVERLAYS = sorted((ROOT / "deploy" / "kubernetes" / "overlays").iterdir())


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def main() -> int:
    failures = 0
    for dockerfile in sorted(ROOT.glob("services/*/Dockerfile")):
        result = run([str(BIN / "hadolint"), str(dockerfile)])
        status = "ok" if result.returncode == 0 else "FAILED"
        print(f"hadolint {dockerfile.relative_to(ROOT)}: {status}")
        if result.returncode:
            print(result.stdout + result.stderr)
            failures += 1
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl is missing: install it (Debian: apt-get install kubectl)", file=sys.stderr)
        return 1
    for overlay in OVERLAYS:
        rendered = run([kubectl, "kustomize", str(overlay)])
        if rendered.returncode:
            print(f"kustomize {overlay.name}: FAILED\n{rendered.stderr}")
            failures += 1
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
            out.write(rendered.stdout)
            out.flush()
            valid = run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", out.name])
        count = rendered.stdout.count("\nkind: ") + rendered.stdout.startswith("kind: ")
        status = "ok" if valid.returncode == 0 else "FAILED"
        print(f"kubernetes {overlay.name}: {count} resources, schema {status}")
        if valid.returncode:
            print(valid.stdout + valid.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
