"""The whole platform for the load and journey figures, started as ``make run`` starts it
(deploy/local/run.py on free ports in a temporary folder, through the launcher helper of the
tests), and what the bench measures on it: answers, latencies, the services' memory."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.platform import make_run, processes_mentioning

SERVICES = ("identity", "payment", "storage", "notify", "procedures")


@dataclass
class Stack:
    urls: dict[str, str]
    """Each service's base URL (``http://localhost:PORT``, the URLs make run gives out)."""
    pids: dict[str, int]
    credentials: dict[str, Any]
    """``var/dev-credentials.json``: the demo tenant, its client and people."""
    var: Path


def _service_pids(var: Path) -> dict[str, int]:
    """The ``socle_<service> serve`` process of each service the launcher started."""
    pids: dict[str, int] = {}
    for pid in processes_mentioning(str(var)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for name in SERVICES:
            if f"socle_{name}".encode() in cmdline and b"serve" in cmdline:
                pids[name] = pid
    return pids


@contextlib.contextmanager
def platform(folder: Path, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """``make run`` in ``folder`` (its services on SQLite, NATS, SeaweedFS, the mail sink),
    with ``env`` added to every service's settings; stopped with Ctrl-C on the way out."""
    folder.mkdir(parents=True, exist_ok=True)
    with make_run(folder, env) as started:
        urls = {name: f"http://localhost:{started.ports[name.upper()]}" for name in SERVICES}
        credentials = json.loads((started.var / "dev-credentials.json").read_text())
        yield Stack(urls, _service_pids(started.var), credentials, started.var)


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Tally:
    """Answers and latencies of one kind of request (or page)."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, status: str, seconds: float | None) -> None:
        self.statuses[status] += 1
        if seconds is not None:
            self.latencies.append(seconds)

    def merge(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        self.latencies += other.latencies
        self.errors.update(other.errors)

    def percentile(self, share: float) -> float:
        """Milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def latency_text(self) -> str:
        return (
            f"p50 {self.percentile(0.50):,.0f} ms, p95 {self.percentile(0.95):,.0f} ms, "
            f"p99 {self.percentile(0.99):,.0f} ms"
        )

    def answers_text(self) -> str:
        return ", ".join(f"{k}: {v:,}" for k, v in sorted(self.statuses.items())) or "none"

    def errors_text(self) -> str:
        total = sum(self.errors.values())
        if not total:
            return "0"
        return f"{total:,} (" + ", ".join(f"{k}: {v:,}" for k, v in self.errors.items()) + ")"


class Memory:
    """Each service's resident memory, sampled while a run lasts."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[float]] = {name: [] for name in pids}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.samples[name].append(rss_mib(pid))

    def text(self, name: str) -> str:
        rss = self.samples.get(name) or [float("nan")]
        return f"{rss[0]:,.0f} MiB at start, {max(rss):,.0f} MiB at most, {rss[-1]:,.0f} MiB at end"
