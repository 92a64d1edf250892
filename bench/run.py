"""``make bench``: each Socle measurement side by side with a peer, in one run, as ratios.

Peers are installed by this script into a temporary folder (npm), never vendored. Results are
printed and written to docs/benchmarks.md with the machine they ran on.

``python bench/run.py ROW...`` (e.g. ``token_issuance_sqlite protected_get
storage_transfers growth``) runs only those rows, ``SOCLE_BENCH_REPEAT`` times each, and
prints them with the load average without writing the report.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cases, growth, journey, load, storage_cases  # noqa: E402
from bench.events import P99_MS, PACED_RATE  # noqa: E402

# The targets of the issue "speed": the least ratio, and for events a p99 at PACED_RATE.
TARGETS = {
    "token_issuance_sqlite": 1.0,
    "token_issuance_postgres": 1.0,
    "protected_get": 0.8,
    "events_end_to_end": 0.5,
    "emails": 0.7,
    "webhooks": 0.7,
}
P99_TARGET_MS = 50.0
NOTES = Path(__file__).with_name("notes.md")
LOAD_AT_START = os.getloadavg()[0]
REPEAT = int(os.environ.get("SOCLE_BENCH_REPEAT", "3"))
"""Runs of each pair, back to back; the report shows the run of median ratio."""


@dataclass
class Result:
    case: str
    name: str
    ours_label: str
    peer_label: str
    unit: str
    ours: float
    peer: float
    others: list[float] = field(default_factory=list)
    """The ratios of the other runs of the same pair."""

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


def write_report(results: list[Result], load_lines: list[str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py): each row measured side by side with its peer",
        "in the same run on the same machine. Ratio > 1 means Socle is faster. Each pair ran",
        f"{REPEAT} times back to back; the table shows the run of median ratio.",
        "",
        f"Machine: {machine()}. Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"Load average (1 min) at the start {LOAD_AT_START:.1f}, at the end "
        f"{os.getloadavg()[0]:.1f}: other work shares the machine.",
        "",
        "| measurement | Socle | peer | ratio |",
        "|---|---|---|---|",
    ]
    for r in results:
        others = f" (other runs: {', '.join(f'{o:.2f}' for o in r.others)})" if r.others else ""
        lines.append(
            f"| {r.name} | {r.ours_label}: {r.ours:,.0f} {r.unit} | "
            f"{r.peer_label}: {r.peer:,.0f} {r.unit} | {r.ratio:.2f}{others} |"
        )
    lines += ["", "## Targets", "", "| row | target | this run | met |", "|---|---|---|---|"]
    for r in results:
        if r.case not in TARGETS:
            continue
        target = TARGETS[r.case]
        met = r.ratio >= target
        how = f"ratio {r.ratio:.2f}"
        wanted = f"≥ {target:.1f}x"
        if r.case in P99_MS:
            p99 = P99_MS[r.case]
            wanted += f", p99 < {P99_TARGET_MS:.0f} ms at {PACED_RATE:,.0f}/s"
            how += f", p99 {p99:,.0f} ms"
            met = met and p99 < P99_TARGET_MS
        verdict = "yes" if met else f"no: {r.ratio / target:.0%} of the ratio wanted"
        lines.append(f"| {r.name} ({r.ours_label}) | {wanted} | {how} | {verdict} |")
    lines += ["", *load_lines]
    lines += ["", NOTES.read_text().strip(), "", "## What each row measures", ""]
    for bench in cases.ALL:
        doc = " ".join((bench.__doc__ or "").split())
        lines.append(f"- `{bench.__name__}`: {doc}")
    lines.append("")
    return "\n".join(lines)


async def main(only: Sequence[str] = ()) -> int:
    """Every row, or (``only``) the rows named, printed and not written to the report."""
    known = [bench.__name__ for bench in cases.ALL] + ["storage_transfers", "growth"]
    unknown = [name for name in only if name not in known]
    if unknown:
        print(f"unknown rows {unknown}; rows: {', '.join(known)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="socle-bench-") as tmp:
        folder = Path(tmp)
        install_peers(folder)
        benches: Sequence[Callable[[Path], Awaitable[tuple[str, str, str, str, float, float]]]] = [
            bench for bench in cases.ALL if not only or bench.__name__ in only
        ]
        results = []
        for bench in benches:
            runs = []
            p99s: list[float | None] = []
            for _ in range(REPEAT):
                name, ours_label, peer_label, unit, ours, peer = await bench(folder)
                run = Result(bench.__name__, name, ours_label, peer_label, unit, ours, peer)
                print(
                    f"{name}: {ours:,.0f} vs {peer:,.0f} {unit} (ratio {run.ratio:.2f})", flush=True
                )
                runs.append(run)
                p99s.append(P99_MS.get(bench.__name__))
            # the run of median ratio stands for the case (its own p99 with it)
            middle = sorted(range(len(runs)), key=lambda i: runs[i].ratio)[len(runs) // 2]
            result = runs[middle]
            p99 = p99s[middle]
            if p99 is not None:
                P99_MS[bench.__name__] = p99
            result.others = [r.ratio for i, r in enumerate(runs) if i != middle]
            results.append(result)
        if only:
            if "storage_transfers" in only:
                await storage_cases.storage_transfers(folder)
            if "growth" in only:
                await growth.growth(folder)
            print(
                f"load average (1 min): {LOAD_AT_START:.1f} at the start, "
                f"{os.getloadavg()[0]:.1f} at the end"
            )
            return 0
        load_lines: list[str] = await storage_cases.storage_transfers(folder)
        load_lines += ["", *await growth.growth(folder)]
        for case in [*load.ALL, journey.citizen_journey]:
            figures = await case(folder)
            print("\n".join(figures), flush=True)
            load_lines += figures
    report = write_report(results, load_lines)
    (ROOT / "docs" / "benchmarks.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
