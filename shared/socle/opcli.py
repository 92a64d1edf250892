"""``socle``: one command for operators, over the five services' own command lines.

Each service's command runs in this process with that service's settings: the environment,
where ``SOCLE_<SERVICE>__<NAME>`` overrides ``SOCLE_<NAME>`` for that service alone
(``SOCLE_PAYMENT__DATABASE_URL=...``), after the lines ``NAME=value`` of
``<env-dir>/<service>.env`` when ``--env-dir`` (or ``SOCLE_ENV_DIR``) names a folder.
Every command answers ``--help`` and prints JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from socle.opcli_bus import dead_letters
from socle.opcli_output import Context, bar, emit, json_option, pass_context
from socle.opcli_services import SERVICES, OperatorError, Services
from socle.opcli_tenants import tenants


class OperatorGroup(click.Group):
    """Reports an operator error as one line (``socle: ...``), exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from None


# ------------------------------------------------------------------ the command


@click.group(cls=OperatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SOCLE_ENV_DIR",
    help="Folder of <service>.env files (default: $SOCLE_ENV_DIR).",
)
@click.option(
    "--service",
    "only",
    multiple=True,
    type=click.Choice(SERVICES),
    help="Only this service (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def cli(ctx: click.Context, env_dir: Path | None, only: Sequence[str], as_json: bool) -> None:
    """One command for Socle's operators: health, migrations, tenants, events, webhooks."""
    ctx.obj = Context(services=Services(env_dir, only), json=as_json)


@cli.command()
@json_option
@pass_context
def doctor(ctx: Context) -> None:
    """Check every service's settings, database and schema, NATS, JWKS (and S3, SMTP),
    without serving. Exits 1 when a check fails."""
    reports = []
    with bar(ctx, "doctor") as progress:
        progress.total(len(ctx.services.names))
        for name in ctx.services.names:
            progress.on(name)
            done = ctx.services.run(name, "doctor", "--json")
            progress.step()
            try:
                reports.append(json.loads(done.stdout))
            except json.JSONDecodeError:
                check = {"name": "settings", "ok": False, "detail": done.error_line()}
                reports.append({"service": name, "ok": False, "checks": [check]})
    healthy = all(r["ok"] for r in reports)
    lines = []
    for report in reports:
        lines.append(f"{report['service']}: {'ok' if report['ok'] else 'FAILING'}")
        for check in report["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            lines.append(f"  {mark} {check['name']}: {check['detail']}")
    emit(ctx, {"ok": healthy, "services": reports}, "\n".join(lines))
    if not healthy:
        raise SystemExit(1)


@cli.command()
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when a schema is behind.")
@json_option
@pass_context
def migrate(ctx: Context, check: bool) -> None:
    """Migrate every service's database to the code's schema (say what was done), or only
    check it (--check). A database that cannot be reached is one line, no traceback."""
    results: list[dict[str, Any]] = []
    worst = 0
    with bar(ctx, "migrate") as progress:
        progress.total(len(ctx.services.names))
        for name in ctx.services.names:
            progress.on(name)
            done = ctx.services.run(name, "migrate", *(["--check"] if check else []))
            progress.step()
            text = done.stdout.strip() or done.error_line()
            results.append({"service": name, "ok": done.returncode == 0, "result": text})
            worst = max(worst, done.returncode)
    emit(ctx, results, "\n".join(str(r["result"]) for r in results))
    if worst:
        raise SystemExit(worst)


@cli.group()
def outbox() -> None:
    """Events each service recorded and has not published yet."""


@outbox.command("status")
@json_option
@pass_context
def outbox_status(ctx: Context) -> None:
    """How many events wait in each service's outbox, and the oldest's age."""
    states = []
    for name in ctx.services.names:
        done = ctx.services.run(name, "outbox-status", "--json")
        if done.returncode != 0:
            states.append({"service": name, "error": done.stdout.strip() or done.error_line()})
        else:
            states.append(json.loads(done.stdout))
    lines = [
        f"{s['service']:<11} {s['pending']:>6} pending, oldest {s['oldest_age_seconds']} s"
        if "error" not in s
        else f"{s['service']:<11} {s['error']}"
        for s in states
    ]
    emit(ctx, states, "\n".join(lines))
    if any("error" in s for s in states):
        raise SystemExit(1)


# ------------------------------------------------------------------ events


@cli.group()
def events() -> None:
    """Events on the bus."""


@events.group("dead-letters")
def dead_letters_group() -> None:
    """Events a consumer gave up on (kept in the dead-letter stream)."""


def _letters_text(letters: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{d['id']:>6} {d['consumer']:<24} {d['subject']:<40} "
        + ("replayed" if d.get("replayed") else d["error"])
        for d in letters
    )


@dead_letters_group.command("list")
@json_option
@pass_context
def dead_letters_list(ctx: Context) -> None:
    """The dead letters: id, consumer, subject and the error it gave up with."""
    letters = dead_letters(ctx.services.bus_env())
    emit(ctx, letters, _letters_text(letters) or "no dead letter")


@dead_letters_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Replay every dead letter.")
@json_option
@pass_context
def dead_letters_replay(ctx: Context, ids: tuple[int, ...], every: bool) -> None:
    """Publish dead letters again on their subject (consumers that took them already skip
    them), then remove them. IDS are those `list` shows."""
    if not ids and not every:
        raise click.UsageError("give dead-letter ids, or --all")
    with bar(ctx, "replay") as progress:
        letters = dead_letters(
            ctx.services.bus_env(),
            wanted=None if every else set(ids),
            replay=True,
            steps=progress,
        )
    emit(ctx, letters, _letters_text(letters) or "no dead letter")


# ------------------------------------------------------------------ webhooks


@cli.group()
def webhooks() -> None:
    """Webhook deliveries notify gave up on."""


@webhooks.command("failed")
@click.option("--tenant", help="Only this tenant's.")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@pass_context
def webhooks_failed(ctx: Context, tenant: str | None, limit: int) -> None:
    """Deliveries whose retries are exhausted, newest first."""
    args = ["--limit", str(limit), *(["--tenant", tenant] if tenant else [])]
    found = ctx.services.json("notify", "webhooks-failed", *args)
    text = "\n".join(
        f"{d['id']} {d['tenant']:<14} {d['event_type']:<28} {d['attempts']} attempts: "
        f"{d['last_error'] or ''}"
        for d in found
    )
    emit(ctx, found, text or "no failed webhook delivery")


@webhooks.command("redeliver")
@click.argument("ids", nargs=-1, required=True)
@click.option("--tenant", required=True, help="The tenant the deliveries belong to.")
@json_option
@pass_context
def webhooks_redeliver(ctx: Context, ids: tuple[str, ...], tenant: str) -> None:
    """Deliver failed deliveries again (a running notify sends them)."""
    done = ctx.services.json("notify", "webhooks-redeliver", "--tenant", tenant, *ids)
    emit(ctx, done, "\n".join(f"{d['id']}: {d['status']}" for d in done))


cli.add_command(tenants)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``socle`` console script."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="socle")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
