"""Secrets at rest: the private signing keys are sealed in the database with the
key-encryption key (KEK) of the settings; keys written in clear by an older version are
sealed when the service starts; the KEK rotates with ``rotate-kek``; a wrong or missing KEK
stops the service with a message naming the variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError
from sqlalchemy import text

from socle.auth import JWKSCache, TokenVerifier
from socle.db import create_engine
from socle.migrations import upgrade
from socle.sealing import KeyEncryptionError, new_kek
from socle_dev.testing import running
from socle_identity import directory
from socle_identity.app import create_app
from socle_identity.settings import DEV_KEY_ENCRYPTION_KEY, IdentitySettings
from tests.support.identity import ISSUER, quick_settings, tenant_with_client
from tests.support.infra import in_thread

MIGRATIONS = Path(__file__).resolve().parents[2] / "services/identity/socle_identity/migrations"


def settings_for(url: str, nats_url: str, kek: str = "", **extra: object) -> IdentitySettings:
    return quick_settings(
        url,
        nats_url,
        ISSUER,
        key_encryption_key=kek,
        **extra,
    )


async def stored_keys(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT kid, private_key_sealed FROM signing_keys"))
            return {kid: value for kid, value in rows}
    finally:
        await engine.dispose()


async def erp_client(app, tenant: str) -> tuple[str, str]:
    client, secret = await tenant_with_client(
        app.state.runtime.sessions,
        tenant,
        directory.ClientSpec(
            name="ERP", grant_types=["client_credentials"], scopes=["payments:read"]
        ),
        name=tenant,
        client_id=f"erp-{tenant}",
    )
    assert secret is not None
    return client.client_id, secret


async def token_and_check(http, client: tuple[str, str], *old_tokens: str) -> str:
    """A new token is signed, and it and the older ones verify as another service does."""
    response = await http.post("/token", data={"grant_type": "client_credentials"}, auth=client)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    verifier = TokenVerifier(
        issuer=ISSUER,
        audience="socle-payment",
        jwks=JWKSCache(f"{ISSUER}/jwks", client=http, min_refresh_seconds=0),
    )
    for each in (token, *old_tokens):
        assert (await verifier.verify(each)).client_id == client[0]
    return str(token)


def cli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOCLE_")}
    return subprocess.run(
        [sys.executable, "-m", "socle_identity", *args],
        env={**base, "SOCLE_DATABASE_URL": url, "SOCLE_ISSUER": ISSUER, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_private_keys_are_sealed_in_the_database(identity, commune):
    token = await commune.admin_token()
    url = identity.app.state.runtime.settings.database_url
    stored = await stored_keys(url)
    assert len(stored) >= 4
    for value in stored.values():
        assert value.startswith("kek1:") and "PRIVATE KEY" not in value
    assert jwt.get_unverified_header(token)["kid"] in stored
    # Published keys say what they are for once: "use", without "key_ops" (RFC 7517 4.3).
    for key in (await identity.client.get("/jwks")).json()["keys"]:
        assert key["use"] == "sig" and "key_ops" not in key, key


async def test_keys_stored_in_clear_by_an_older_version_are_sealed_at_start(
    new_database, nats_server
):
    url = new_database("identity")
    in_thread(upgrade, MIGRATIONS, url, "0004")
    # What the previous version stored: a PEM in clear, and a JWK with "use" and "key_ops".
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = f"es256-legacy-{uuid.uuid4().hex[:6]}"
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True) | {
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
        "key_ops": ["verify"],
    }
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO signing_keys (kid, alg, status, private_pem, public_jwk, created_at,"
                " activated_at) VALUES (:kid, 'ES256', 'active', :pem, :jwk, now(), now())"
            ),
            {"kid": kid, "pem": pem, "jwk": json.dumps(jwk)},
        )
    await engine.dispose()
    in_thread(upgrade, MIGRATIONS, url)

    kek = new_kek()
    app = create_app(settings_for(url, nats_server.url, kek))
    async with running(app) as http:
        stored = await stored_keys(url)
        assert stored[kid].startswith("kek1:") and pem not in stored[kid]
        assert all(value.startswith("kek1:") for value in stored.values())
        client = await erp_client(app, f"t{uuid.uuid4().hex[:10]}")
        token = await token_and_check(http, client)
        # The key kept signing, now read through the KEK.
        assert jwt.get_unverified_header(token)["kid"] == kid
        published = {k["kid"]: k for k in (await http.get("/jwks")).json()["keys"]}
        assert "key_ops" not in published[kid]


async def test_kek_rotation_from_the_command_line(new_database, nats_server):
    url = new_database("identity")
    in_thread(upgrade, MIGRATIONS, url)
    old, new = new_kek(), new_kek()
    tenant = f"t{uuid.uuid4().hex[:10]}"
    nats_url = nats_server.url

    app = create_app(settings_for(url, nats_url, old))
    async with running(app) as http:
        client = await erp_client(app, tenant)
        before = await token_and_check(http, client)
    sealed_before = await stored_keys(url)

    # The operator runs the rotation with the old key and the new one, both from the
    # environment (never on the command line, where other users of the host see them).
    missing_old = cli(url, "rotate-kek", SOCLE_KEY_ENCRYPTION_KEY=new)
    assert missing_old.returncode == 1
    assert "SOCLE_OLD_KEY_ENCRYPTION_KEY" in missing_old.stderr
    wrong_old = cli(
        url,
        "rotate-kek",
        SOCLE_KEY_ENCRYPTION_KEY=new,
        SOCLE_OLD_KEY_ENCRYPTION_KEY=new_kek(),
    )
    assert wrong_old.returncode == 1 and "another key-encryption key" in wrong_old.stderr
    assert await stored_keys(url) == sealed_before, "a failed rotation changed nothing"

    # Step 1 of the procedure: instances run with the new key and the old one meanwhile.
    both = settings_for(url, nats_url, new, old_key_encryption_key=old)
    async with running(create_app(both)) as http:
        await token_and_check(http, client, before)

    rotated = cli(url, "rotate-kek", SOCLE_KEY_ENCRYPTION_KEY=new, SOCLE_OLD_KEY_ENCRYPTION_KEY=old)
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["resealed"] == len(sealed_before)
    after = await stored_keys(url)
    assert set(after) == set(sealed_before)
    assert all(after[kid] != sealed_before[kid] for kid in after)
    # Run again (a rotation interrupted and resumed): nothing left to do.
    again = cli(url, "rotate-kek", SOCLE_KEY_ENCRYPTION_KEY=new, SOCLE_OLD_KEY_ENCRYPTION_KEY=old)
    assert again.returncode == 0 and json.loads(again.stdout)["resealed"] == 0

    # With the new KEK the service starts, signs, and the tokens signed before still verify.
    async with running(create_app(settings_for(url, nats_url, new))) as http:
        after_token = await token_and_check(http, client, before)
        assert (
            jwt.get_unverified_header(after_token)["kid"]
            == (jwt.get_unverified_header(before)["kid"])
        )

    # With the old KEK it refuses to start, saying why and which variable to set.
    with pytest.raises(KeyEncryptionError) as refused:
        async with running(create_app(settings_for(url, nats_url, old))):
            pass
    assert "SOCLE_KEY_ENCRYPTION_KEY" in str(refused.value)
    assert "another key-encryption key" in str(refused.value)
    # So does the operator command that rotates the signing keys.
    rotate_keys = cli(url, "rotate-keys", SOCLE_KEY_ENCRYPTION_KEY=old)
    assert rotate_keys.returncode == 1
    assert "SOCLE_KEY_ENCRYPTION_KEY" in rotate_keys.stderr
    assert "Traceback" not in rotate_keys.stderr


def test_production_requires_its_own_key_encryption_key():
    production = {
        "environment": "production",
        "secret_key": "s" * 40,
        "pairwise_salt": "a-random-pairwise-salt",
        "cookie_secure": True,
        "issuer": "https://login.example.ch",
        "database_url": "postgresql+asyncpg://identity@db/identity",
    }
    with pytest.raises(ValidationError, match="SOCLE_KEY_ENCRYPTION_KEY must be set"):
        IdentitySettings(**production)
    with pytest.raises(ValidationError, match="development key is refused"):
        IdentitySettings(**production, key_encryption_key=DEV_KEY_ENCRYPTION_KEY)
    with pytest.raises(ValidationError, match="base64 of 32 random bytes"):
        IdentitySettings(**production, key_encryption_key="too-short")
    assert IdentitySettings(**production, key_encryption_key=new_kek()).key_encryption()
    # Development works without one (a fixed development key).
    assert IdentitySettings().key_encryption().current


def test_service_outside_development_without_a_kek_stops_naming_the_variable(tmp_path):
    started = cli(
        f"sqlite+aiosqlite:///{tmp_path}/identity.db",
        "serve",
        SOCLE_ENVIRONMENT="staging",
    )
    assert started.returncode == 2
    assert "SOCLE_KEY_ENCRYPTION_KEY" in started.stderr
    assert "Traceback" not in started.stderr
