"""``make run``'s launcher (deploy/local/run.py) started on free ports in a temporary folder,
as a user starts it; the tests read the files it writes, like a user."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from socle_dev.localinfra import free_port

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["PROCEDURES", "IDENTITY", "PAYMENT", "STORAGE", "NOTIFY", "NATS", "S3", "SMTP"]
READY = "Ctrl-C stops everything"


@dataclass
class Platform:
    proc: subprocess.Popen[str]
    var: Path
    ports: dict[str, int]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if READY in line:
                self.ready.set()
        self.done.set()

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None:
                raise AssertionError("make run ended early:\n" + self.tail())
            if time.monotonic() > deadline:
                raise AssertionError(f"make run not ready in {timeout:.0f} s:\n" + self.tail())

    def output_ended(self, timeout: float = 10.0) -> bool:
        """True once the launcher's output is read to its end (after it exited)."""
        return self.done.wait(timeout)

    def tail(self, lines: int = 60) -> str:
        return "".join(self.output[-lines:])


def processes_mentioning(text: str) -> list[int]:
    """Processes (other than this one) whose command line or environment holds ``text``:
    every process the launcher started inherits ``SOCLE_VAR_DIR``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline or text in environ:
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def make_run(folder: Path, env: dict[str, str] | None = None) -> Iterator[Platform]:
    """The launcher running until ready; stopped with SIGINT (Ctrl-C) on the way out unless
    the test did it, killed if it does not stop. ``env``: settings added to the launcher's
    environment (every service inherits them)."""
    var = folder / "var"
    ports = {part: free_port() for part in PARTS}
    env = dict(
        os.environ,
        **(env or {}),
        SOCLE_VAR_DIR=str(var),
        **{f"SOCLE_{part}_PORT": str(port) for part, port in ports.items()},
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "local" / "run.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the launcher alone
    )
    platform = Platform(proc=proc, var=var, ports=ports)
    reader = threading.Thread(target=platform.read, daemon=True)
    reader.start()
    try:
        platform.wait_ready()
        yield platform
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in processes_mentioning(str(var)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        reader.join(5)
