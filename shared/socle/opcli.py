"""``socle``: one command for operators, over the five services' own command lines.

Each service is run as ``python -m socle_<service> ...`` with its own settings: the process's
environment, where ``SOCLE_<SERVICE>__<NAME>`` overrides ``SOCLE_<NAME>`` for that service
alone (``SOCLE_PAYMENT__DATABASE_URL=...``), after the lines ``NAME=value`` of
``<env-dir>/<service>.env`` when ``--env-dir`` (or ``SOCLE_ENV_DIR``) names a folder.
Dead letters live on the bus only, so ``socle dead-letters`` talks to NATS itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from socle.bus import DEAD_LETTER_PREFIX

SERVICES = ("identity", "payment", "storage", "notify", "procedures")


# ------------------------------------------------------------------ running a service's CLI


def service_env(service: str, env_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
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


class Services:
    def __init__(self, env_dir: Path | None, only: Sequence[str] | None) -> None:
        self.env_dir = env_dir
        self.names = list(only or SERVICES)

    def run(
        self, service: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (our own interpreter and module names)
            [sys.executable, "-m", f"socle_{service}", *args],
            env=service_env(service, self.env_dir),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    def run_all(self, *args: str) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
        """``args`` run by every service at once (each its own process), in service order."""
        with ThreadPoolExecutor(max_workers=len(self.names)) as pool:
            done = list(pool.map(lambda name: self.run(name, *args), self.names))
        return list(zip(self.names, done, strict=True))

    def json(self, service: str, *args: str, stdin: str | None = None) -> Any:
        """The command's JSON output; SystemExit with its one-line error when it failed."""
        done = self.run(service, *args, stdin=stdin)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise SystemExit(f"socle: {service} {args[0]} failed: {lines[-1] if lines else ''}")
        return json.loads(done.stdout)


def _emit(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if as_json else text)


# ------------------------------------------------------------------ doctor, migrate, outbox


def doctor(services: Services, args: argparse.Namespace) -> int:
    reports = []
    for name, done in services.run_all("doctor", "--json"):
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError:
            lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
            detail = lines[-1] if lines else f"exit {done.returncode}"
            report = {
                "service": name,
                "ok": False,
                "checks": [{"name": "settings", "ok": False, "detail": detail}],
            }
        reports.append(report)
    healthy = all(r["ok"] for r in reports)
    lines = []
    for report in reports:
        lines.append(f"{report['service']}: {'ok' if report['ok'] else 'FAILING'}")
        for check in report["checks"]:
            mark = "ok  " if check["ok"] else "FAIL"
            lines.append(f"  {mark} {check['name']}: {check['detail']}")
    _emit({"ok": healthy, "services": reports}, args.json, "\n".join(lines))
    return 0 if healthy else 1


def migrate(services: Services, args: argparse.Namespace) -> int:
    worst = 0
    for name, done in services.run_all("migrate", *(["--check"] if args.check else [])):
        text = done.stdout.strip()
        if done.returncode != 0 and not text:  # the one-line error (logs are JSON lines)
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            text = lines[-1] if lines else f"socle-{name}: exit {done.returncode}"
        print(text)
        worst = max(worst, done.returncode)
    return worst


def outbox(services: Services, args: argparse.Namespace) -> int:
    states = []
    for name, done in services.run_all("outbox-status", "--json"):
        if done.returncode != 0:
            states.append({"service": name, "error": done.stdout.strip() or done.stderr.strip()})
        else:
            states.append(json.loads(done.stdout))
    lines = [
        f"{s['service']:<11} {s['pending']:>6} pending, oldest {s['oldest_age_seconds']} s"
        if "error" not in s
        else f"{s['service']:<11} {s['error']}"
        for s in states
    ]
    _emit(states, args.json, "\n".join(lines))
    return 1 if any("error" in s for s in states) else 0


# ------------------------------------------------------------------ tenants


def tenants(services: Services, args: argparse.Namespace) -> int:
    if args.action == "list":
        found = services.json("identity", "list-tenants")
        _emit(found, args.json, "\n".join(f"{t['slug']:<20} {t['name']}" for t in found))
        return 0
    if args.action == "create":
        created = services.json("identity", "create-tenant", args.slug, "--name", args.name)
        _emit(created, args.json, f"created tenant {created['slug']} ({created['name']})")
        return 0
    if args.action == "configure":
        _configure(services, args)
    shown = {
        "identity": services.json("identity", "show-tenant", args.slug),
        "payment": services.json("payment", "tenant-settings", args.slug),
        "notify": services.json("notify", "tenant-sender", args.slug),
    }
    pay, mail = shown["payment"], shown["notify"]
    text = "\n".join(
        [
            f"{args.slug}: {shown['identity']['name']} ({shown['identity']['clients']} clients, "
            f"{shown['identity']['users']} people)",
            f"  creditor ({pay['creditor']['source']}): {pay['creditor']['name']}, "
            f"{pay['creditor']['iban']}",
            f"  stripe ({pay['stripe']['source']}): secret key "
            + (
                f"…{pay['stripe']['secret_key']['last4']}"
                if pay["stripe"]["secret_key"]["configured"]
                else "not set"
            )
            + f", webhook {pay['stripe']['webhook_url']}",
            f"  mail sender ({mail['source']}): {mail['from_header']}"
            + (f", reply to {mail['reply_to']}" if mail["reply_to"] else ""),
        ]
    )
    _emit(shown, args.json, text)
    return 0


def _configure(services: Services, args: argparse.Namespace) -> None:
    pay: list[str] = []
    for field in ("iban", "name", "street", "house_number", "postal_code", "city", "country"):
        value = getattr(args, f"creditor_{field}")
        if value is not None:
            pay += [f"--creditor-{field.replace('_', '-')}", value]
    stdin = None
    if args.stripe_keys_stdin:
        pay.append("--stripe-keys-stdin")
        stdin = sys.stdin.readline() + sys.stdin.readline()
    if pay:
        services.json("payment", "tenant-settings", args.slug, *pay, stdin=stdin)
    mail: list[str] = []
    for option in ("from_name", "from_address", "reply_to"):
        value = getattr(args, option)
        if value is not None:
            mail += [f"--{option.replace('_', '-')}", value]
    if mail:
        services.json("notify", "tenant-sender", args.slug, *mail)


# ------------------------------------------------------------------ webhooks


def webhooks(services: Services, args: argparse.Namespace) -> int:
    if args.action == "list":
        found = services.json(
            "notify", "webhooks-failed", *(["--tenant", args.tenant] if args.tenant else [])
        )
        text = "\n".join(
            f"{d['id']} {d['tenant']:<14} {d['event_type']:<28} {d['attempts']} attempts: "
            f"{d['last_error'] or ''}"
            for d in found
        )
        _emit(found, args.json, text or "no failed webhook delivery")
        return 0
    if not args.tenant or not args.ids:
        raise SystemExit("socle: webhooks retry needs --tenant and delivery ids")
    done = services.json("notify", "webhooks-redeliver", "--tenant", args.tenant, *args.ids)
    _emit(done, args.json, "\n".join(f"{d['id']}: {d['status']}" for d in done))
    return 0


# ------------------------------------------------------------------ dead letters


async def _quiet(exc: Exception) -> None:
    """nats-py prints a traceback for every failed attempt; the caller reports one line."""


async def _dead_letters(args: argparse.Namespace) -> list[dict[str, Any]]:
    url = os.environ.get("SOCLE_NATS_URL", "nats://127.0.0.1:4222")
    stream = os.environ.get("SOCLE_STREAM_NAME", "SOCLE") + "_DEADLETTER"
    async with asyncio.timeout(10):  # nats-py may retry a first connection forever
        nc = await nats.connect(
            url, connect_timeout=5, allow_reconnect=False, max_reconnect_attempts=0, error_cb=_quiet
        )
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        wanted = {int(i) for i in args.ids} if args.action == "retry" and not args.all else None
        letters = []
        if not info.state.messages:
            return []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            if wanted is not None and seq not in wanted:
                continue
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue  # retried already (deleted)
            headers = dict(msg.headers or {})
            consumer = (msg.subject or "").removeprefix(f"{DEAD_LETTER_PREFIX}.").split(".")[0]
            letter = {
                "id": seq,
                "consumer": consumer,
                "subject": headers.get("Socle-Original-Subject", ""),
                "error": headers.get("Socle-Error", ""),
                "event_id": json.loads(msg.data or b"{}").get("id"),
            }
            if args.action == "retry":
                await _replay(js, stream, seq, msg.data or b"", headers)
                letter["retried"] = True
            letters.append(letter)
        return letters
    finally:
        await nc.close()


async def _replay(js: Any, stream: str, seq: int, data: bytes, headers: dict[str, str]) -> None:
    """Publish the event again on its subject (consumers that took it already skip it, by
    their inbox), then remove the dead letter."""
    subject = headers.pop("Socle-Original-Subject")
    headers.pop("Socle-Error", None)
    headers["Nats-Msg-Id"] = f"{headers.get('Nats-Msg-Id', '')}:replay:{seq}"
    await js.publish(subject, data, headers=headers)
    await js.delete_msg(stream, seq)


def dead_letters(services: Services, args: argparse.Namespace) -> int:
    if args.action == "retry" and not (args.ids or args.all):
        raise SystemExit("socle: dead-letters retry needs ids or --all")
    try:
        letters = asyncio.run(_dead_letters(args))
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        raise SystemExit(f"socle: NATS unreachable ({exc.__class__.__name__})") from None
    text = "\n".join(
        f"{d['id']:>6} {d['consumer']:<24} {d['subject']:<40} "
        + ("retried" if d.get("retried") else d["error"])
        for d in letters
    )
    _emit(letters, args.json, text or "no dead letter")
    return 0


# ------------------------------------------------------------------ the parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="socle", description=__doc__.splitlines()[0])
    top.add_argument(
        "--env-dir",
        type=Path,
        default=Path(os.environ["SOCLE_ENV_DIR"]) if os.environ.get("SOCLE_ENV_DIR") else None,
        help="folder of <service>.env files (default: $SOCLE_ENV_DIR)",
    )
    top.add_argument(
        "--service", action="append", choices=SERVICES, help="only this service (repeatable)"
    )
    top.add_argument("--json", action="store_true", help="JSON output")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check every service's settings and dependencies")
    m = sub.add_parser("migrate", help="migrate every service's database")
    m.add_argument("--check", action="store_true", help="change nothing; exit 1 when behind")
    o = sub.add_parser("outbox", help="events waiting in each service's outbox")
    o.add_argument("action", choices=["status"])
    t = sub.add_parser("tenants", help="communes: list, create, show, configure")
    t.add_argument("action", choices=["list", "create", "show", "configure"])
    t.add_argument("slug", nargs="?")
    t.add_argument("--name", default="", help="create: the display name")
    for field in ("iban", "name", "street", "house-number", "postal-code", "city", "country"):
        t.add_argument(f"--creditor-{field}", dest=f"creditor_{field.replace('-', '_')}")
    t.add_argument(
        "--stripe-keys-stdin",
        action="store_true",
        help="read the tenant's Stripe secret key then webhook secret from stdin",
    )
    t.add_argument("--from-name", help="the tenant's mail sender name")
    t.add_argument("--from-address", help="the tenant's mail sender address")
    t.add_argument("--reply-to", help="the tenant's Reply-To")
    d = sub.add_parser("dead-letters", help="events a consumer gave up on")
    d.add_argument("action", choices=["list", "retry"])
    d.add_argument("ids", nargs="*", help="retry: the ids shown by list")
    d.add_argument("--all", action="store_true", help="retry: every dead letter")
    w = sub.add_parser("webhooks", help="webhook deliveries notify gave up on")
    w.add_argument("action", choices=["list", "retry"])
    w.add_argument("ids", nargs="*", help="retry: delivery ids (before --tenant)")
    w.add_argument("--tenant")
    return top


COMMANDS = {
    "doctor": doctor,
    "migrate": migrate,
    "outbox": outbox,
    "tenants": tenants,
    "dead-letters": dead_letters,
    "webhooks": webhooks,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "tenants" and args.action != "list" and not args.slug:
        raise SystemExit(f"socle: tenants {args.action} needs the tenant's slug")
    return COMMANDS[args.command](Services(args.env_dir, args.service), args)


if __name__ == "__main__":
    raise SystemExit(main())
