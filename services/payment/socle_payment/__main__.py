"""``python -m socle_payment migrate|serve|doctor|outbox-status|tenant-settings``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from socle.cli import Command, fail
from socle.cli import main as cli_main
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.problems import DomainError
from socle.telemetry import configure_logging
from socle_payment.app import create_app
from socle_payment.payments import Payments
from socle_payment.providers import build_providers
from socle_payment.settings import PaymentSettings

MIGRATIONS = Path(__file__).parent / "migrations"
CREDITOR = ("iban", "name", "street", "house_number", "postal_code", "city", "country")


def _settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("tenant")
    for field in CREDITOR:
        p.add_argument(f"--creditor-{field.replace('_', '-')}", dest=f"creditor_{field}")
    p.add_argument("--reset-creditor", action="store_true", help="back to the default creditor")
    p.add_argument(
        "--stripe-keys-stdin",
        action="store_true",
        help="read the Stripe secret key, then the webhook secret, one a line, from stdin",
    )
    p.add_argument("--reset-stripe", action="store_true", help="back to the default account")
    p.add_argument("--stripe-account-id", help="the tenant's Stripe Connect account (acct_...)")
    p.add_argument(
        "--no-stripe-account", action="store_true", help="pay on the platform's own account"
    )


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    given = {f: getattr(args, f"creditor_{f}") for f in CREDITOR}
    if args.reset_creditor:
        changes["creditor"] = None
    elif any(v is not None for v in given.values()):
        missing = [f for f in ("iban", "name", "postal_code", "city") if not given[f]]
        if missing:
            raise DomainError(
                "a creditor needs "
                + ", ".join(f"--creditor-{m.replace('_', '-')}" for m in missing)
            )
        changes["creditor"] = {k: v or "" for k, v in given.items()} | {
            "country": given["country"] or "CH"
        }
    if args.reset_stripe:
        changes["stripe"] = None
    elif args.stripe_keys_stdin:
        secret, webhook = sys.stdin.readline().strip(), sys.stdin.readline().strip()
        if not secret.startswith(("sk_", "rk_")) or not webhook.startswith("whsec_"):
            raise DomainError("give sk_... (or rk_...) then whsec_... on two lines of stdin")
        changes["stripe"] = {"secret_key": secret, "webhook_secret": webhook}
    if args.no_stripe_account:
        changes["stripe_account_id"] = None
    elif args.stripe_account_id:
        changes["stripe_account_id"] = args.stripe_account_id
    return changes


def _tenant_settings(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Show (no option) or change a tenant's creditor and Stripe account; never a secret."""
    assert isinstance(settings, PaymentSettings)
    try:
        changes = _changes(args)

        async def go() -> dict[str, Any]:
            engine = create_engine(settings.database_url)
            try:
                payments = Payments(
                    settings=settings,
                    providers=build_providers(settings),
                    sessions=create_sessionmaker(engine),
                )
                if changes:
                    return await payments.configure_tenant(args.tenant, changes)
                return await payments.tenant_settings(args.tenant)
            finally:
                await engine.dispose()

        view = asyncio.run(go())
    except DomainError as exc:
        return fail(f"error: {exc.detail}")
    print(json.dumps(view, indent=2, default=str))
    return 0


COMMANDS: dict[str, tuple[str, Any, Command]] = {
    "tenant-settings": (
        "show or change a tenant's creditor (QR-bills) and Stripe account",
        _settings_args,
        _tenant_settings,
    ),
}


def main(argv: list[str] | None = None) -> int:
    configure_logging("payment")  # log lines on stderr: stdout carries the commands' JSON
    return cli_main(
        name="payment",
        settings_cls=PaymentSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8002,
        commands=COMMANDS,
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
