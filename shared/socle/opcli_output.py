"""What every ``socle`` command shares: its context, ``--json``, and Rich progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from socle.opcli_services import Services


@dataclass
class Context:
    services: Services
    json: bool


class Bar:
    """A Rich progress bar on stderr, shown only on a terminal and never with ``--json``."""

    def __init__(self, progress: Progress, label: str) -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=None)

    def total(self, count: int) -> None:
        self.progress.update(self.task, total=count)

    def on(self, what: str) -> None:
        """Say what is being done now."""
        self.progress.update(self.task, description=what)

    def step(self, what: str = "") -> None:
        """One more done."""
        self.progress.update(self.task, advance=1, description=what or None)


@contextmanager
def bar(ctx: Context, label: str) -> Iterator[Bar]:
    console = Console(file=sys.stderr)  # this stream, not one a service command captures
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=ctx.json or not console.is_terminal,
    )
    with progress:
        yield Bar(progress, label)


def emit(ctx: Context, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if ctx.json else text)


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` on the command itself, as well as before it (``socle --json doctor``)."""

    def turn_on(ctx: click.Context, _: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Context).json = True

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=turn_on,
        help="JSON output.",
    )(command)


pass_context = click.make_pass_decorator(Context)
