"""``make bench``: each Socle measurement side by side with a peer, in one run, as ratios.

Peers are installed by this script into a temporary folder (npm), never vendored. Results are
printed and written to docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cases  # noqa: E402


@dataclass
class Result:
    name: str
    ours_label: str
    peer_label: str
    unit: str
    ours: float
    peer: float

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else float("nan")


def install_peers(folder: Path) -> None:
    subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(folder),
            *cases.NPM_PEERS,
        ],
        check=True,
    )


def machine() -> str:
    cpus = os.cpu_count()
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{platform.system()} {platform.machine()}, {cpus} cores ({model}), "
        f"Python {platform.python_version()}, Node {node}"
    )


def write_report(results: list[Result]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py): each row measured side by side with its peer",
        "in the same run on the same machine. Ratio > 1 means Socle is faster.",
        "",
        f"Machine: {machine()}. Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| measurement | Socle | peer | ratio |",
        "|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.ours_label}: {r.ours:,.0f} {r.unit} | "
            f"{r.peer_label}: {r.peer:,.0f} {r.unit} | {r.ratio:.2f} |"
        )
    lines += ["", "## What each row measures", ""]
    for bench in cases.ALL:
        doc = " ".join((bench.__doc__ or "").split())
        lines.append(f"- `{bench.__name__}`: {doc}")
    lines.append("")
    return "\n".join(lines)


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="socle-bench-") as tmp:
        folder = Path(tmp)
        install_peers(folder)
        benches: list[Callable[[Path], Awaitable[tuple[str, str, str, str, float, float]]]] = (
            cases.ALL
        )
        results = []
        for bench in benches:
            name, ours_label, peer_label, unit, ours, peer = await bench(folder)
            result = Result(name, ours_label, peer_label, unit, ours, peer)
            print(
                f"{name}: {ours:,.0f} vs {peer:,.0f} {unit} (ratio {result.ratio:.2f})", flush=True
            )
            results.append(result)
    report = write_report(results)
    (ROOT / "docs" / "benchmarks.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
