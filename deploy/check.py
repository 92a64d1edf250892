"""``make deploy-check``: lint every Dockerfile, lint and render the Helm chart with its default
and production values, validate every rendered object against Kubernetes' schemas, and check
and test the alert rules with promtool."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tools import BIN, CHART, PRODUCTION_VALUES, ROOT, helm, objects, template

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
VALUES = {"default": (), "production": (PRODUCTION_VALUES,)}
# Custom resources whose schemas kubernetes-validate does not carry: checked by their own tool.
CUSTOM_GROUPS = ("monitoring.coreos.com/",)


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def lint_dockerfiles() -> int:
    failures = 0
    for dockerfile in sorted(ROOT.glob("services/*/Dockerfile")):
        result = run([str(BIN / "hadolint"), str(dockerfile)])
        status = "ok" if result.returncode == 0 else "FAILED"
        print(f"hadolint {dockerfile.relative_to(ROOT)}: {status}")
        if result.returncode:
            print(result.stdout + result.stderr)
            failures += 1
    return failures


def validate(label: str, values: tuple[Path, ...]) -> int:
    """Lint, render and validate the chart with ``values``; print one line; 1 on failure."""
    lint = helm("lint", "--strict", str(CHART), *[a for v in values for a in ("-f", str(v))])
    if lint.returncode:
        print(f"helm {label}: lint FAILED\n{lint.stdout}{lint.stderr}")
        return 1
    try:
        docs = objects(template(*values))
    except (RuntimeError, yaml.YAMLError) as exc:
        print(f"helm {label}: render FAILED\n{exc}")
        return 1
    builtin = [d for d in docs if not d["apiVersion"].startswith(CUSTOM_GROUPS)]
    custom = [d for d in docs if d["apiVersion"].startswith(CUSTOM_GROUPS)]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
        yaml.safe_dump_all(builtin, out)
        out.flush()
        for version in KUBERNETES_VERSIONS:
            valid = run(
                [str(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", version, out.name]
            )
            if valid.returncode:
                print(f"helm {label}: schema FAILED (kubernetes {version})")
                print(valid.stdout + valid.stderr)
                return 1
    for doc in custom:
        problem = CUSTOM_CHECKS.get(doc["kind"], _unknown)(doc)
        if problem:
            print(f"helm {label}: {doc['kind']} {doc['metadata']['name']} FAILED\n{problem}")
            return 1
    versions = ", ".join(v.rsplit(".", 1)[0] for v in KUBERNETES_VERSIONS)
    print(f"helm {label}: {len(docs)} objects, lint ok, schema ok (kubernetes {versions})")
    return 0


def _unknown(doc: dict[str, object]) -> str:
    return f"no check for kind {doc['kind']}"


def _service_monitor(doc: dict[str, object]) -> str:
    spec = doc.get("spec")
    if not isinstance(spec, dict) or not spec.get("selector") or not spec.get("endpoints"):
        return "a ServiceMonitor needs spec.selector and spec.endpoints"
    return ""


def _promtool() -> str | None:
    return shutil.which("promtool")


def _prometheus_rule(doc: dict[str, object]) -> str:
    """The rendered rule groups, checked by promtool as Prometheus would load them."""
    promtool = _promtool()
    if promtool is None:
        return "promtool is missing: make tools installs it (Debian package prometheus)"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as rules:
        yaml.safe_dump(doc["spec"], rules)
        rules.flush()
        result = run([promtool, "check", "rules", rules.name])
    return "" if result.returncode == 0 else result.stdout + result.stderr


CUSTOM_CHECKS: dict[str, Callable[[dict[str, object]], str]] = {
    "ServiceMonitor": _service_monitor,
    "PrometheusRule": _prometheus_rule,
}


def test_alerts() -> int:
    """``promtool test rules``: every alert fires on its situation and not on a healthy one."""
    promtool = _promtool()
    if promtool is None:
        print("promtool is missing: make tools installs it (Debian package prometheus)")
        return 1
    tests = ROOT / "deploy" / "helm" / "alerts.test.yaml"
    result = subprocess.run(
        [promtool, "test", "rules", tests.name],
        cwd=tests.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    dashboard = CHART / "files" / "dashboard.json"
    try:
        panels = len(json.loads(dashboard.read_text())["panels"])
    except (ValueError, KeyError) as exc:
        print(f"grafana dashboard: FAILED ({exc!r})")
        return 1
    if result.returncode:
        print(f"promtool test rules: FAILED\n{result.stdout}{result.stderr}")
        return 1
    print(f"promtool test rules: ok; grafana dashboard: {panels} panels")
    return 0


def main() -> int:
    failures = lint_dockerfiles()
    for label, values in VALUES.items():
        failures += validate(label, values)
    failures += test_alerts()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
