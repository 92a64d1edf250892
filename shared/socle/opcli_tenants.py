"""``socle tenants list|create|show|configure|offboard``: the communes of an installation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from socle.opcli_output import Context, bar, emit, json_option, pass_context
from socle.opcli_services import SERVICES, OperatorError

CREDITOR = ("iban", "name", "street", "house_number", "postal_code", "city", "country")
OFFBOARD_ORDER = SERVICES
"""Identity first: its clients are disabled and their tokens refused before anything else
goes, so no new work arrives for the tenant while its data is deleted."""


@click.group()
def tenants() -> None:
    """The communes: list, create, show, configure, offboard."""


@tenants.command("list")
@json_option
@pass_context
def tenants_list(ctx: Context) -> None:
    """Every tenant: slug and name."""
    found = ctx.services.json("identity", "list-tenants")
    emit(ctx, found, "\n".join(f"{t['slug']:<20} {t['name']}" for t in found))


@tenants.command("create")
@click.argument("slug")
@click.option("--name", default="", help="The display name, e.g. 'Commune de Vevey'.")
@json_option
@pass_context
def tenants_create(ctx: Context, slug: str, name: str) -> None:
    """Create a tenant (commune) in identity."""
    created = ctx.services.json("identity", "create-tenant", slug, "--name", name)
    emit(ctx, created, f"created tenant {created['slug']} ({created['name']})")


def _show(ctx: Context, slug: str) -> None:
    shown = {
        "identity": ctx.services.json("identity", "show-tenant", slug),
        "payment": ctx.services.json("payment", "tenant-settings", slug),
        "notify": ctx.services.json("notify", "tenant-sender", slug),
        "operations": ctx.services.json("notify", "tenant-contacts", slug),
    }
    pay, mail, ops = shown["payment"], shown["notify"], shown["operations"]
    secret = pay["stripe"]["secret_key"]
    lines = [
        f"{slug}: {shown['identity']['name']} ({shown['identity']['clients']} clients, "
        f"{shown['identity']['users']} people)",
        f"  creditor ({pay['creditor']['source']}): {pay['creditor']['name']}, "
        f"{pay['creditor']['iban']}",
        f"  stripe ({pay['stripe']['source']}): secret key "
        + (f"…{secret['last4']}" if secret["configured"] else "not set")
        + (
            f", Connect account {pay['stripe']['account_id']}"
            if pay["stripe"]["account_id"]
            else ""
        )
        + f", webhook {pay['stripe']['webhook_url']}",
        f"  mail sender ({mail['source']}): {mail['from_header']}"
        + (f", reply to {mail['reply_to']}" if mail["reply_to"] else ""),
        f"  operations contacts ({ops['source']}): " + (", ".join(ops["emails"]) or "none"),
    ]
    emit(ctx, shown, "\n".join(lines))


@tenants.command("show")
@click.argument("slug")
@json_option
@pass_context
def tenants_show(ctx: Context, slug: str) -> None:
    """A tenant's name, people and settings in every service (never a secret)."""
    _show(ctx, slug)


def _creditor_options(command: Any) -> Any:
    for field in reversed(CREDITOR):
        command = click.option(
            f"--creditor-{field.replace('_', '-')}", f"creditor_{field}", help="QR-bill creditor."
        )(command)
    return command


@tenants.command("configure")
@click.argument("slug")
@_creditor_options
@click.option(
    "--stripe-keys-stdin",
    is_flag=True,
    help="Read the tenant's Stripe secret key, then its webhook secret, from stdin.",
)
@click.option("--stripe-account-id", help="The tenant's Stripe Connect account (acct_...).")
@click.option("--no-stripe-account", is_flag=True, help="Back to the platform's own account.")
@click.option("--from-name", help="The tenant's mail sender name.")
@click.option("--from-address", help="The tenant's mail sender address.")
@click.option("--reply-to", help="The tenant's Reply-To.")
@click.option(
    "--operations-email",
    "operations",
    multiple=True,
    help="Where the tenant's alerts go (repeatable; replaces the list).",
)
@click.option("--reset-operations", is_flag=True, help="Back to the installation's contacts.")
@json_option
@pass_context
def tenants_configure(ctx: Context, /, slug: str, **given: Any) -> None:
    """Change a tenant's settings (creditor, Stripe account, mail sender, operations
    contacts), without restarting anything; then show them."""
    pay: list[str] = []
    for field in CREDITOR:
        value = given[f"creditor_{field}"]
        if value is not None:
            pay += [f"--creditor-{field.replace('_', '-')}", value]
    stdin = None
    if given["stripe_keys_stdin"]:
        pay.append("--stripe-keys-stdin")
        stdin = sys.stdin.readline() + sys.stdin.readline()
    if given["stripe_account_id"]:
        pay += ["--stripe-account-id", given["stripe_account_id"]]
    if given["no_stripe_account"]:
        pay.append("--no-stripe-account")
    if pay:
        ctx.services.json("payment", "tenant-settings", slug, *pay, stdin=stdin)
    mail: list[str] = []
    for option in ("from_name", "from_address", "reply_to"):
        if given[option] is not None:
            mail += [f"--{option.replace('_', '-')}", given[option]]
    if mail:
        ctx.services.json("notify", "tenant-sender", slug, *mail)
    contacts = [arg for email in given["operations"] for arg in ("--email", email)]
    if given["reset_operations"]:
        contacts = ["--reset"]
    if contacts:
        ctx.services.json("notify", "tenant-contacts", slug, *contacts)
    _show(ctx, slug)


@tenants.command("offboard")
@click.argument("slug")
@click.option("--confirm", is_flag=True, help="Delete (without it: only list what would go).")
@click.option(
    "--export-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every row as JSON lines under DIR/SLUG/<service>/ before deleting it.",
)
@json_option
@pass_context
def tenants_offboard(ctx: Context, slug: str, confirm: bool, export_dir: Path | None) -> None:
    """A commune leaves: stop its work (identity disables its clients and every token they
    issued is refused), then delete its data in every service (rows, and documents in S3).
    A dry run unless --confirm; run again to check nothing is left."""
    order = [name for name in OFFBOARD_ORDER if name in ctx.services.names]
    if confirm:  # a legal hold anywhere: nothing is deleted anywhere
        dry = [ctx.services.json(name, "offboard-tenant", slug) for name in order]
        held = {r["service"]: r["held"] for r in dry if r["held"]}
        if held:
            raise OperatorError(
                f"nothing deleted: records of {slug} are on legal hold ("
                + ", ".join(f"{service}: {n}" for service, n in held.items())
                + "); release the holds once the records are handed over, then run again"
            )
    args = [slug, *(["--confirm"] if confirm else [])]
    if export_dir is not None:
        args += ["--export-dir", str(export_dir.resolve())]
    reports = []
    with bar(ctx, "offboard") as progress:
        progress.total(len(order))
        for name in order:
            progress.on(name)
            try:
                reports.append(ctx.services.json(name, "offboard-tenant", *args))
            except OperatorError as exc:
                reports.append({"service": name, "tenant": slug, "error": str(exc)})
            progress.step()
    emit(ctx, {"tenant": slug, "applied": confirm, "services": reports}, _report(slug, reports))
    if any("error" in r for r in reports):
        raise SystemExit(1)


def _report(slug: str, reports: list[dict[str, Any]]) -> str:
    applied = any(r.get("applied") for r in reports)
    lines = [
        f"Deleted for tenant {slug}:"
        if applied
        else f"Would delete for tenant {slug} (dry run; --confirm deletes):"
    ]
    for r in reports:
        if "error" in r:
            lines.append(f"  {r['service']}: FAILED {r['error']}")
            continue
        counts = {**r["tables"], **r["outside"]}
        found = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
        held = f" ({r['held']} on legal hold: nothing will be deleted)" if r["held"] else ""
        lines.append(f"  {r['service']}: {found}{held}")
    return "\n".join(lines)
