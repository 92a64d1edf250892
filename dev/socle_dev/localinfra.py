"""Real local servers from PyPI: NATS with JetStream, SeaweedFS S3, an SMTP sink.

Used by ``make run`` and by the test suite; each server runs in its own directory, on the
ports given, and is stopped (with its whole process group) by ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float, host: str = "127.0.0.1", proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _binary(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project with make (it brings {name})")
    return found


@dataclass
class ManagedProcess:
    """A server process in its own process group."""

    args: list[str]
    log: IO[bytes] | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            self.args,
            env=self.env,
            stdout=self.log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill(self) -> None:
        """Die abruptly, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class NatsServer(ManagedProcess):
    """``nats-server -js`` on ``port`` with its store in ``directory``."""

    directory: Path = Path(".")
    port: int = 4222

    @classmethod
    def create(cls, directory: Path, port: int, log: IO[bytes] | None = None) -> NatsServer:
        directory.mkdir(parents=True, exist_ok=True)
        args = [
            _binary("nats-server"),
            "-js",
            "-sd",
            str(directory),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        return cls(args=args, log=log, directory=directory, port=port)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, 15, proc=self.proc)


@dataclass(frozen=True)
class StoreSizing:
    """How SeaweedFS lays out and reclaims its disk.

    Each bucket is a SeaweedFS collection with volumes of its own (several created at once),
    a volume takes writes until it reaches ``volume_mb`` and volume files grow as written
    (nothing is reserved up front). A deleted object's bytes stay in its volume until the
    volume is vacuumed: the master does so every ``vacuum_seconds`` for the volumes whose
    deleted share is above ``garbage_threshold`` (or at once on
    ``GET <master>/vol/vacuum?garbageThreshold=0.01``)."""

    volume_mb: int
    max_volumes: int
    """0: as many as the free disk holds at start (free space divided by ``volume_mb``)."""
    garbage_threshold: float = 0.3
    vacuum_seconds: int = 840

    def args(self) -> list[str]:
        return [
            f"-master.volumeSizeLimitMB={self.volume_mb}",
            f"-volume.max={self.max_volumes}",
            f"-master.garbageThreshold={self.garbage_threshold}",
            f"-master.vacuumIntervalSeconds={self.vacuum_seconds}",
        ]


TEST_SIZING = StoreSizing(volume_mb=64, max_volumes=50)
"""The test suite's: small volumes (many buckets, little data), at most 3.2 GB."""
LOCAL_SIZING = StoreSizing(volume_mb=256, max_volumes=0, garbage_threshold=0.1, vacuum_seconds=300)
"""``make run`` and the benchmarks': bounded by the disk (SeaweedFS stops taking writes when
less than 1 % of it is free), deleted bytes given back within five minutes once they are a
tenth of a volume."""


@dataclass
class S3Server(ManagedProcess):
    """SeaweedFS (``weed server -s3``) with one access key, S3 on ``port``."""

    directory: Path = Path(".")
    port: int = 8333
    access_key: str = "socle"
    secret_key: str = "socle-local-secret"
    master_port: int = 9333

    @classmethod
    def create(
        cls,
        directory: Path,
        port: int,
        access_key: str,
        secret_key: str,
        log: IO[bytes] | None = None,
        sizing: StoreSizing = TEST_SIZING,
    ) -> S3Server:
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "socle",
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        master, volume, filer = free_port(), free_port(), free_port()
        # Every gRPC port is given: weed's default (port + 10000) may not exist or be taken.
        grpc = [f"-{part}.port.grpc={free_port()}" for part in ("master", "volume", "filer", "s3")]
        args = [
            _binary("weed"),
            "server",
            f"-dir={directory}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={port}",
            f"-s3.config={config}",
            *grpc,
            # Its catalog listeners default to fixed ports (8181, 9101): two servers on one
            # machine would collide on them.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *sizing.args(),
            # Stop when told: no 10 s wait for a master that stops with it.
            "-volume.preStopSeconds=0",
        ]
        return cls(
            args=args,
            log=log,
            directory=directory,
            port=port,
            access_key=access_key,
            secret_key=secret_key,
            master_port=master,
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_url(self) -> str:
        """SeaweedFS's master (``/vol/status``, ``/vol/vacuum``)."""
        return f"http://127.0.0.1:{self.master_port}"

    def start(self, timeout: float = 60.0) -> None:
        super().start()
        wait_for_port(self.port, timeout, proc=self.proc)
        self._wait_s3(timeout)

    def _wait_s3(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.endpoint + "/", timeout=2).status_code in (200, 403):
                    return
            time.sleep(0.3)
        raise TimeoutError("S3 did not answer in time")


class _KeepMail:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.refuse:
            return "451 4.3.0 temporarily refusing mail"
        if not self.sink.flowing.is_set():  # a slow server: the mail waits for the test
            self.sink.held += 1
            await asyncio.to_thread(self.sink.flowing.wait)
            self.sink.held -= 1
        raw = envelope.original_content or b""
        self.sink.store(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every mail it receives: in memory (for tests), or, given a
    ``directory``, only as files there (``make run``: memory stays flat however many mails)."""

    def __init__(self, port: int, directory: Path | None = None) -> None:
        self.port = port
        self.directory = directory
        self.received = 0
        self._kept: list[tuple[str, list[str], Message]] = []
        self.refuse = False
        self.flowing = threading.Event()
        """Cleared, mails wait in the DATA phase (counted in ``held``) until it is set again."""
        self.flowing.set()
        self.held = 0
        self._controller = Controller(_KeepMail(self), hostname="127.0.0.1", port=port)

    @property
    def messages(self) -> list[tuple[str, list[str], Message]]:
        """The mails received (read back from the directory when there is one)."""
        if self.directory is None:
            return self._kept
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes())
            recipients = [r.strip() for r in (message.get("X-Sink-Recipients") or "").split(",")]
            found.append((str(message.get("X-Sink-Sender") or ""), recipients, message))
        return found

    def store(self, sender: str, recipients: list[str], raw: bytes) -> None:
        self.received += 1
        if self.directory is None:
            self._kept.append((sender, recipients, email.message_from_bytes(raw)))
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{self.received:06d}-{uuid.uuid4().hex[:6]}.eml"
        envelope = f"X-Sink-Sender: {sender}\r\nX-Sink-Recipients: {', '.join(recipients)}\r\n"
        (self.directory / name).write_bytes(envelope.encode() + raw)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Message]:
        return [m for _, rcpts, m in self.messages if address in rcpts]
