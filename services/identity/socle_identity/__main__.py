"""``python -m socle_identity migrate|serve|create-tenant|create-client|create-user|rotate-keys|
rotate-kek|seed-demo|disable-client|enable-client|delete-client|rotate-client-secret``."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from socle.cli import Command, fail
from socle.cli import main as cli_main
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.migrations import upgrade
from socle.problems import DomainError
from socle.sealing import KeyEncryptionError
from socle.telemetry import configure_logging
from socle.web import CommuneLook
from socle_identity import directory, errors, federation, keys, lifecycle
from socle_identity.app import create_app
from socle_identity.cli_tenants import COMMANDS as TENANT_COMMANDS
from socle_identity.cli_tenants import close_tenant
from socle_identity.models import Client, Tenant
from socle_identity.passwords import Passwords
from socle_identity.provider import Provider
from socle_identity.scopes import ALL_SCOPES, GRANT_TYPES
from socle_identity.settings import IdentitySettings

MIGRATIONS = Path(__file__).parent / "migrations"

DEMO_TENANT = "demo"
DEMO_CLIENT = "demo-app"
DEMO_PORTAL = "http://localhost:8000"
"""The citizen portal of ``make run`` when ``SOCLE_PORTAL_URL`` does not say where it is."""
DEMO_PEOPLE = (
    ("citizen@demo.example", ["citizen"]),
    ("agent@demo.example", ["agent"]),
    ("mediator@demo.example", ["mediator"]),
)


def _run(settings: ServiceSettings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        engine = create_engine(settings.database_url)
        sessions = create_sessionmaker(engine)
        try:
            return await work(sessions)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _guard(run: Command) -> Command:
    def wrapped(settings: ServiceSettings, args: argparse.Namespace) -> int:
        try:
            return run(settings, args)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 1
        except KeyEncryptionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapped


def _passwords(settings: ServiceSettings) -> Passwords:
    assert isinstance(settings, IdentitySettings)
    return Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)


# ------------------------------------------------------------------ create-tenant


def _tenant_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug", help="short lower-case name, e.g. vevey")
    p.add_argument("--name", default="", help="display name, e.g. 'Commune de Vevey'")


def _create_tenant(settings: ServiceSettings, args: argparse.Namespace) -> int:
    async def work(sessions: Any) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            tenant = await directory.create_tenant(session, slug=args.slug, name=args.name)
            return {"slug": tenant.slug, "name": tenant.name}

    _print(_run(settings, work))
    return 0


# ------------------------------------------------------------------ create-client


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--public", action="store_true", help="a public client (no secret, PKCE)")
    p.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
    p.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], dest="post_logout_uris"
    )
    p.add_argument("--scope", action="append", default=[], dest="scopes", choices=ALL_SCOPES)
    p.add_argument("--grant", action="append", default=[], dest="grants", choices=GRANT_TYPES)
    p.add_argument(
        "--auth-method", choices=["client_secret_basic", "client_secret_post"], default=None
    )
    p.add_argument("--role", action="append", default=[], dest="roles")
    p.add_argument("--signing-alg", choices=keys.SUPPORTED_ALGS, default="ES256")
    p.add_argument("--client-id", default=None, help="choose the client id (default: random)")


def _create_client(settings: ServiceSettings, args: argparse.Namespace) -> int:
    spec = directory.ClientSpec(
        name=args.name,
        public=args.public,
        redirect_uris=args.redirect_uris,
        post_logout_redirect_uris=args.post_logout_uris,
        scopes=args.scopes or ["openid"],
        grant_types=args.grants or ["authorization_code"],
        token_endpoint_auth_method=args.auth_method,
        roles=args.roles,
        signing_alg=args.signing_alg,
    )

    async def work(sessions: Any) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            client, secret = await directory.register_client(
                session, tenant=args.tenant, spec=spec, client_id=args.client_id
            )
            return {"client_id": client.client_id, "client_secret": secret}

    _print(_run(settings, work))
    return 0


# ------------------------------------------------------------------ client lifecycle


def _client_id_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("client_id")


def _secret_args(p: argparse.ArgumentParser) -> None:
    _client_id_args(p)
    p.add_argument(
        "--revoke-tokens",
        action="store_true",
        help="also refuse every token issued to the client until now (a leaked secret)",
    )


def _client_action(
    action: Callable[[Any, Client, int, argparse.Namespace], Awaitable[dict[str, Any]]],
) -> Command:
    """Run ``action`` on the client named on the command line, in one transaction."""

    def run(settings: ServiceSettings, args: argparse.Namespace) -> int:
        assert isinstance(settings, IdentitySettings)

        async def work(sessions: Any) -> dict[str, Any]:
            async with sessions() as session, session.begin():
                client = await session.get(Client, args.client_id)
                if client is None:
                    raise errors.UnknownClient(f"No client {args.client_id!r}.")
                out = await action(session, client, settings.access_token_ttl, args)
                return {"client_id": args.client_id, **out}

        _print(_run(settings, work))
        return 0

    return _guard(run)


async def _disable(session: Any, client: Client, ttl: int, _: argparse.Namespace) -> dict[str, Any]:
    await lifecycle.set_client_enabled(session, client, enabled=False, default_ttl=ttl)
    return {"enabled": False}


async def _enable(session: Any, client: Client, ttl: int, _: argparse.Namespace) -> dict[str, Any]:
    await lifecycle.set_client_enabled(session, client, enabled=True, default_ttl=ttl)
    return {"enabled": True}


async def _delete(session: Any, client: Client, ttl: int, _: argparse.Namespace) -> dict[str, Any]:
    await lifecycle.delete_client(session, client, default_ttl=ttl)
    return {"deleted": True}


async def _rotate_secret(
    session: Any, client: Client, ttl: int, args: argparse.Namespace
) -> dict[str, Any]:
    secret = await lifecycle.rotate_client_secret(
        session, client, revoke_tokens=args.revoke_tokens, default_ttl=ttl
    )
    return {"client_secret": secret, "tokens_revoked": args.revoke_tokens}


# ------------------------------------------------------------------ create-user


def _user_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--role", action="append", default=[], dest="roles", help="agent, admin")
    p.add_argument("--given-name", default="")
    p.add_argument("--family-name", default="")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (default: generate one and print it)",
    )


def _create_user(settings: ServiceSettings, args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    passwords = _passwords(settings)

    async def work(sessions: Any) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            user = await directory.create_user(
                session,
                passwords,
                tenant=args.tenant,
                email=args.email,
                password=password,
                roles=args.roles or ["agent"],
                given_name=args.given_name,
                family_name=args.family_name,
                email_verified=True,
            )
            out = {"id": user.id, "email": user.email, "roles": user.roles}
            if generated:
                out["password"] = password
            return out

    _print(_run(settings, work))
    return 0


# ------------------------------------------------------------------ rotate-keys


def _rotate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alg", choices=keys.SUPPORTED_ALGS, default=keys.DEFAULT_ALG)


def _rotate(settings: ServiceSettings, args: argparse.Namespace) -> int:
    assert isinstance(settings, IdentitySettings)
    ttls = (settings.access_token_ttl, settings.id_token_ttl)

    async def work(sessions: Any) -> keys.Rotation:
        return await keys.rotate(
            sessions, encryption=settings.key_encryption(), alg=args.alg, token_ttls=ttls
        )

    rotation: keys.Rotation = _run(settings, work)
    _print(
        {
            "alg": rotation.alg,
            "active_kid": rotation.active_kid,
            "previous_kid": rotation.previous_kid,
            "previous_published_until": rotation.previous_published_until,
            "next_kid": rotation.next_kid,
        }
    )
    return 0


# ------------------------------------------------------------------ rotate-kek


def _rotate_kek(settings: ServiceSettings, args: argparse.Namespace) -> int:
    assert isinstance(settings, IdentitySettings)
    encryption = settings.key_encryption()

    async def work(sessions: Any) -> int:
        return await keys.rotate_kek(sessions, encryption)

    count = _run(settings, work)
    _print({"resealed": count, "key_encryption_key_id": encryption.current_id})
    return 0


# ------------------------------------------------------------------ configure-federation


def _federation_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", required=True, help="shown on the login page, e.g. AGOV")
    p.add_argument("--issuer", required=True, help="the upstream provider's issuer URL")
    p.add_argument("--client-id", required=True)
    p.add_argument("--scopes", default="openid email profile")
    p.add_argument(
        "--client-secret-stdin", action="store_true", help="read the client secret from stdin"
    )


def _configure_federation(settings: ServiceSettings, args: argparse.Namespace) -> int:
    assert isinstance(settings, IdentitySettings)
    if not args.client_secret_stdin:
        return fail("give the upstream client secret on stdin with --client-secret-stdin")
    secret = sys.stdin.readline().rstrip("\n")

    async def work(sessions: Any) -> dict[str, Any]:
        provider = Provider.build(settings, sessions)
        async with sessions() as session, session.begin():
            row = await federation.configure(
                session,
                provider,
                tenant=args.tenant,
                name=args.name,
                issuer=args.issuer,
                client_id=args.client_id,
                client_secret=secret,
                scopes=args.scopes,
            )
            return {
                "tenant": row.tenant,
                "issuer": row.issuer,
                "redirect_uri": provider.issuer + federation.CALLBACK_PATH,
            }

    _print(_run(settings, work))
    return 0


# ------------------------------------------------------------------ seed-demo


def _seed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default="var/dev-credentials.json", type=Path)


async def seed_demo(
    sessions: Any, passwords: Passwords, issuer: str, portal: str = DEMO_PORTAL
) -> dict[str, Any]:
    """Tenant ``demo``, client ``demo-app`` and three people; secrets renewed on every run,
    the client's redirect URIs pointed at ``portal`` (the port in use)."""
    portal = portal.rstrip("/")
    redirect = f"{portal}/auth/callback"
    async with sessions() as session, session.begin():
        if await session.get(Tenant, DEMO_TENANT) is None:
            await directory.create_tenant(session, slug=DEMO_TENANT, name="Commune de démo")
        client = await session.get(Client, DEMO_CLIENT)
        if client is None:
            client, secret = await directory.register_client(
                session,
                tenant=DEMO_TENANT,
                client_id=DEMO_CLIENT,
                spec=directory.ClientSpec(
                    name="Demo app",
                    redirect_uris=[redirect],
                    post_logout_redirect_uris=[f"{portal}/"],
                    scopes=list(ALL_SCOPES),
                    grant_types=list(GRANT_TYPES),
                    roles=["agent", "admin"],
                ),
            )
        else:
            secret = await directory.reset_client_secret(session, client)
            client.redirect_uris = [redirect]
            client.post_logout_redirect_uris = [f"{portal}/"]
        people = []
        for email, roles in DEMO_PEOPLE:
            password = secrets.token_urlsafe(12)
            user = await directory.find_user(session, tenant=DEMO_TENANT, email=email)
            if user is None:
                user = await directory.create_user(
                    session,
                    passwords,
                    tenant=DEMO_TENANT,
                    email=email,
                    password=password,
                    roles=roles,
                    given_name=roles[0].capitalize(),
                    family_name="Demo",
                    email_verified=True,
                )
            else:
                await directory.set_password(session, passwords, user, password)
            people.append({"id": user.id, "email": email, "password": password, "roles": roles})
    return {
        "issuer": issuer,
        "tenant": DEMO_TENANT,
        "client": {
            "client_id": DEMO_CLIENT,
            "client_secret": secret,
            "redirect_uri": redirect,
            "token_endpoint": f"{issuer.rstrip('/')}/token",
        },
        "citizen": people[0],
        "agent": people[1],
        "mediator": people[2],
    }


def _seed(settings: ServiceSettings, args: argparse.Namespace) -> int:
    if settings.environment == "production":  # known accounts with printed passwords
        return fail(
            "socle-identity: seed-demo creates demo accounts and prints their passwords; "
            "it refuses to run with SOCLE_ENVIRONMENT=production"
        )
    upgrade(MIGRATIONS, settings.database_url)
    passwords = _passwords(settings)

    async def work(sessions: Any) -> dict[str, Any]:
        assert isinstance(settings, IdentitySettings)
        await keys.ensure_keys(sessions, settings.key_encryption())
        return await seed_demo(
            sessions, passwords, settings.issuer, CommuneLook().portal_url or DEMO_PORTAL
        )

    data = _run(settings, work)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, indent=2) + "\n")
    args.output.chmod(0o600)
    _print(data)
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {
    "create-tenant": ("create a tenant (commune)", _tenant_args, _guard(_create_tenant)),
    "create-client": ("register a client application", _client_args, _guard(_create_client)),
    "create-user": ("create a staff account", _user_args, _guard(_create_user)),
    "configure-federation": (
        "let a tenant's citizens log in through an upstream OpenID provider",
        _federation_args,
        _guard(_configure_federation),
    ),
    "disable-client": (
        "disable a client: no more tokens, its tokens refused everywhere",
        _client_id_args,
        _client_action(_disable),
    ),
    "enable-client": ("enable a disabled client again", _client_id_args, _client_action(_enable)),
    "delete-client": (
        "delete a client; its tokens are refused everywhere",
        _client_id_args,
        _client_action(_delete),
    ),
    "rotate-client-secret": (
        "give a client a new secret [--revoke-tokens]",
        _secret_args,
        _client_action(_rotate_secret),
    ),
    "rotate-keys": ("rotate the signing key", _rotate_args, _guard(_rotate)),
    "rotate-kek": (
        "re-encrypt the signing keys with SOCLE_KEY_ENCRYPTION_KEY "
        "(the old key in SOCLE_OLD_KEY_ENCRYPTION_KEY)",
        lambda p: None,
        _guard(_rotate_kek),
    ),
    "seed-demo": ("seed the demo tenant, client and people", _seed_args, _guard(_seed)),
    **{name: (help_, args, _guard(run)) for name, (help_, args, run) in TENANT_COMMANDS.items()},
}


def main(argv: list[str] | None = None) -> int:
    configure_logging("identity")  # log lines on stderr: stdout carries the commands' JSON
    return cli_main(
        name="identity",
        settings_cls=IdentitySettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8001,
        commands=COMMANDS,
        offboard_hook=close_tenant,
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
