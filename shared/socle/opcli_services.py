"""Running a service's own command line (``python -m socle_<service> ...``) for the ``socle``
command, in this process: each with its own settings, its output captured.

A service's settings are the process's environment, where ``SOCLE_<SERVICE>__<NAME>``
overrides ``SOCLE_<NAME>`` for that service alone (``SOCLE_PAYMENT__DATABASE_URL=...``), after
the lines ``NAME=value`` of ``<env-dir>/<service>.env`` when a folder is given. Commands run
one after the other: the environment and the standard streams are the process's own."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

SERVICES = ("identity", "payment", "storage", "notify", "procedures")


class OperatorError(Exception):
    """What the ``socle`` command reports as one line, with a non-zero exit."""


@dataclass(frozen=True)
class Done:
    """A service command's exit code and captured output."""

    returncode: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The last line on stderr that is not a JSON log record."""
        for line in reversed(self.stderr.splitlines()):
            if line.strip() and not line.lstrip().startswith("{"):
                return line.strip()
        return f"exit {self.returncode}"


def service_env(
    service: str, env_dir: Path | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    if env_dir is not None and (env_dir / f"{service}.env").is_file():
        for line in (env_dir / f"{service}.env").read_text().splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                env[name.strip()] = value.strip()
    prefix = f"SOCLE_{service.upper()}__"
    for name, value in list(env.items()):
        if name.startswith(prefix):
            env["SOCLE_" + name[len(prefix) :]] = value
    return env


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _own_logging() -> Iterator[None]:
    """A service command configures logging for itself (JSON lines on its stderr); the
    caller's logging is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config, bound = structlog.get_config(), structlog.contextvars.get_contextvars()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**bound)


@contextlib.contextmanager
def _stdin(text: str | None) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved


class Services:
    """The services an operator works on (all five unless narrowed)."""

    def __init__(
        self,
        env_dir: Path | None,
        only: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.env_dir = env_dir
        self.names = list(only or SERVICES)
        self.environ = environ
        """The environment the services' settings start from (default: the process's)."""

    def bus_env(self) -> dict[str, str]:
        """The settings naming the bus (the same for every service): the first service's."""
        return service_env(self.names[0], self.env_dir, self.environ)

    def run(self, service: str, *args: str, stdin: str | None = None) -> Done:
        out, err = io.StringIO(), io.StringIO()
        try:
            module = importlib.import_module(f"socle_{service}.__main__")
        except ImportError:
            return Done(1, "", f"socle-{service}: not installed here")
        with (
            _environment(service_env(service, self.env_dir, self.environ)),
            _own_logging(),
            _stdin(stdin),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = int(module.main(list(args)) or 0)
            except SystemExit as exc:  # settings refused, or argparse's usage error
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception as exc:  # one line, never a traceback
                print(f"socle-{service}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                code = 1
        return Done(code, out.getvalue(), err.getvalue())

    def json(self, service: str, *args: str, stdin: str | None = None) -> Any:
        """The command's JSON output; OperatorError with its one-line error when it failed."""
        done = self.run(service, *args, stdin=stdin)
        if done.returncode != 0:
            raise OperatorError(f"{service} {args[0]} failed: {done.error_line()}")
        return json.loads(done.stdout)
