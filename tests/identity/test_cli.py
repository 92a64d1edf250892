"""The operator CLI: tenants, clients, staff, key rotation and the demo seed that
``make run`` uses; what it creates works against the running service."""

from __future__ import annotations

import json

import jwt

from socle_dev.testing import running
from socle_identity.app import create_app
from socle_identity.settings import IdentitySettings
from tests.support.identity import cli


async def test_operator_commands_and_idempotent_demo_seed(migrated_database, nats_server, tmp_path):
    url = migrated_database("identity")
    output = tmp_path / "dev-credentials.json"
    first = cli(url, "seed-demo", "--output", str(output))
    assert first.returncode == 0, first.stderr
    seeded = json.loads(output.read_text())
    assert json.loads(first.stdout) == seeded
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    assert seeded["client"]["client_id"] == "demo-app"
    assert seeded["citizen"]["email"] == "citizen@demo.example"
    assert seeded["agent"]["email"] == "agent@demo.example"
    assert seeded["mediator"]["email"] == "mediator@demo.example"
    assert seeded["mediator"]["roles"] == ["mediator"]

    second = cli(url, "seed-demo", "--output", str(output))
    assert second.returncode == 0, second.stderr
    reseeded = json.loads(output.read_text())
    assert reseeded["client"]["client_id"] == "demo-app"
    assert reseeded["citizen"]["id"] == seeded["citizen"]["id"]
    assert reseeded["client"]["client_secret"] != seeded["client"]["client_secret"]

    made = cli(url, "create-tenant", "vevey", "--name", "Commune de Vevey")
    assert made.returncode == 0, made.stderr
    again = cli(url, "create-tenant", "vevey")
    assert again.returncode == 1 and "already exists" in again.stderr
    client = cli(
        url,
        "create-client",
        "--tenant",
        "vevey",
        "--name",
        "ERP",
        "--grant",
        "client_credentials",
        "--scope",
        "payments:read",
    )
    assert client.returncode == 0, client.stderr
    erp = json.loads(client.stdout)
    staff = cli(
        url,
        "create-user",
        "--tenant",
        "vevey",
        "--email",
        "clerk@vevey.ch",
        "--role",
        "agent",
        "--password-stdin",
        stdin="a long clerk password\n",
    )
    assert staff.returncode == 0, staff.stderr
    assert "password" not in json.loads(staff.stdout)
    unknown = cli(url, "create-user", "--tenant", "nowhere", "--email", "x@y.ch")
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr
    rotated = cli(url, "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    rotation = json.loads(rotated.stdout)

    settings = IdentitySettings(
        database_url=url, nats_url=nats_server.url, issuer="http://testserver"
    )
    async with running(create_app(settings)) as http:
        demo_auth = ("demo-app", reseeded["client"]["client_secret"])
        default = await http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=demo_auth
        )
        assert default.status_code == 200, default.text
        # Without scope: every service scope of the client except the administrative ones.
        assert not [s for s in default.json()["scope"].split() if s.endswith(":admin")]
        demo = await http.post(
            "/token",
            data={
                "grant_type": "client_credentials",
                "scope": "identity:admin procedures:admin payments:read documents:read "
                "notifications:send",
            },
            auth=demo_auth,
        )
        assert demo.status_code == 200, demo.text
        claims = jwt.decode(demo.json()["access_token"], options={"verify_signature": False})
        assert claims["tenant"] == "demo"
        assert set(claims["aud"]) == {
            "socle-identity",
            "socle-payment",
            "socle-storage",
            "socle-notify",
            "socle-procedures",
        }
        assert "procedures:admin" in claims["scope"].split()
        assert (
            jwt.get_unverified_header(demo.json()["access_token"])["kid"] == rotation["active_kid"]
        )
        old_secret = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=("demo-app", seeded["client"]["client_secret"]),
        )
        assert old_secret.status_code == 401
        erp_token = await http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            auth=(erp["client_id"], erp["client_secret"]),
        )
        assert erp_token.json()["scope"] == "payments:read"
        jwks = (await http.get("/jwks")).json()
        assert rotation["previous_kid"] in {k["kid"] for k in jwks["keys"]}
