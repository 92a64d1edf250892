"""What operators install: Dockerfiles lint clean, the Helm chart lints, renders and validates
with its default and production values, and the rendered objects do what docs/operations.md
promises (probes, resources, hooks, public paths, network policies, secrets)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("identity", "payment", "storage", "notify", "procedures")
INTERNAL_PATHS = ("/metrics", "/readyz", "/healthz", "/openapi.json", "/docs")


def _tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("socle_deploy_tools", ROOT / "deploy/tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tools = _tools()


@cache
def rendered(production: bool = False) -> tuple[dict[str, Any], ...]:
    values = (tools.PRODUCTION_VALUES,) if production else ()
    return tuple(tools.objects(tools.template(*values)))


def of_kind(kind: str, production: bool = False) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(production) if o["kind"] == kind}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_dockerfiles_and_the_chart_pass_the_deploy_check():
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "check.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok\n") == 5  # the five Dockerfiles
    assert "helm default: 40 objects, lint ok, schema ok (kubernetes 1.30, 1.37)" in result.stdout
    assert "helm production: 44 objects, lint ok, schema ok" in result.stdout
    assert "promtool test rules: ok; grafana dashboard: 12 panels" in result.stdout


def test_production_values_bring_the_alerts_the_dashboard_and_the_scrape_config():
    (rule,) = of_kind("PrometheusRule", production=True).values()
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {"SocleOutboxStuck", "SocleDeadLetters", "SocleTargetDown"} <= alerts
    (dashboard,) = of_kind("ConfigMap", production=True).values()
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["socle.json"])["uid"] == "socle-overview"
    (monitor,) = of_kind("ServiceMonitor", production=True).values()
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    env = env_of(
        of_kind("Deployment", production=True)["socle-notify"]["spec"]["template"]["spec"][
            "containers"
        ][0]
    )
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability.svc:4318"
    assert env["OTEL_SERVICE_NAME"] == "socle-notify"


def test_a_values_file_that_breaks_the_schema_fails_naming_the_field(tmp_path):
    bad = tmp_path / "values.yaml"
    bad.write_text("services:\n  payment:\n    replicas: two\n    resourcez: {}\n")
    with pytest.raises(RuntimeError) as failure:
        tools.template(bad)
    message = str(failure.value)
    assert "/services/payment/replicas" in message
    assert "'resourcez' not allowed" in message


def test_every_service_has_its_deployment_service_autoscaler_budget_and_policy():
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert set(of_kind(kind)) == {f"socle-{s}" for s in SERVICES}, kind
    assert {f"socle-{s}" for s in SERVICES} <= set(of_kind("NetworkPolicy"))


def test_pods_start_stop_and_are_probed_gracefully_with_bounded_resources():
    pods = [d["spec"]["template"]["spec"] for d in of_kind("Deployment").values()]
    jobs = [j["spec"]["template"]["spec"] for j in of_kind("Job").values()]
    assert len(jobs) == 5
    for pod in pods + jobs:
        for container in pod["containers"]:
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}
            assert "memory" in container["resources"]["limits"]
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for pod in pods:
        (container,) = pod["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
        assert (
            pod["terminationGracePeriodSeconds"]
            > container["lifecycle"]["preStop"]["sleep"]["seconds"]
        )
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_migrations_run_before_install_and_upgrade_and_are_named_after_the_version():
    jobs = of_kind("Job")
    assert set(jobs) == {f"socle-{s}-migrate-0-1-0" for s in SERVICES}
    for job in jobs.values():
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_every_service_gives_the_stream_the_production_limits():
    for deployment in of_kind("Deployment", production=True).values():
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["SOCLE_STREAM_REPLICAS"] == "3"
        assert env["SOCLE_STREAM_MAX_AGE_SECONDS"] == "604800"
        assert env["SOCLE_STREAM_MAX_BYTES"] == "10737418240"
        assert env["SOCLE_DEAD_LETTER_MAX_AGE_SECONDS"] == "2592000"


def test_services_fetch_identity_keys_inside_the_cluster():
    services = of_kind("Service")
    for name, deployment in of_kind("Deployment").items():
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env["SOCLE_ISSUER"] == "https://login.socle.example.ch"
        if name != "socle-identity":
            assert env["SOCLE_JWKS_URL"] == "http://socle-identity/jwks"
    assert services["socle-identity"]["spec"]["ports"][0]["port"] == 80


def test_each_service_reads_its_documented_secret_keys_and_a_missing_one_stops_the_pod():
    deployments = of_kind("Deployment", production=True)
    payment = env_of(deployments["socle-payment"]["spec"]["template"]["spec"]["containers"][0])
    assert payment["SOCLE_DATABASE_URL"] == {
        "secretKeyRef": {"name": "socle-payment-secrets", "key": "SOCLE_DATABASE_URL"}
    }
    assert payment["SOCLE_PAYMENT_STRIPE_SECRET_KEY"]["secretKeyRef"]["optional"] is True
    identity = env_of(deployments["socle-identity"]["spec"]["template"]["spec"]["containers"][0])
    for key in ("SOCLE_DATABASE_URL", "SOCLE_SECRET_KEY", "SOCLE_PAIRWISE_SALT"):
        assert "optional" not in identity[key]["secretKeyRef"], key


def test_the_ingress_publishes_exactly_the_public_paths():
    ingresses = of_kind("Ingress")
    paths = {
        name: {p["path"] for rule in ing["spec"]["rules"] for p in rule["http"]["paths"]}
        for name, ing in ingresses.items()
    }
    for name, ing in ingresses.items():
        assert ing["spec"]["tls"][0]["hosts"] == [ing["spec"]["rules"][0]["host"]]
        for internal in INTERNAL_PATHS:
            assert not any(internal.startswith(p) and p != "/" for p in paths[name]), name
    assert {"/pay", "/v1/webhooks"} <= paths["socle-payment"]
    # The issuer: everything identity serves except its health and metrics.
    from socle_identity.app import create_app
    from socle_identity.settings import IdentitySettings

    issuer_paths = create_app(IdentitySettings()).openapi()["paths"]
    for path in issuer_paths:
        public = any(
            path == p or path.startswith(p.rstrip("/") + "/") for p in paths["socle-identity"]
        )
        assert public == (path not in INTERNAL_PATHS), path


def test_network_policies_let_only_callers_in():
    policies = of_kind("NetworkPolicy")

    def callers(service: str) -> set[str]:
        found = set()
        for rule in policies[f"socle-{service}"]["spec"]["ingress"]:
            for peer in rule["from"]:
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                if "app.kubernetes.io/name" in labels:
                    found.add(labels["app.kubernetes.io/name"])
        return found

    assert callers("identity") == {"payment", "storage", "notify", "procedures"}
    assert callers("payment") == {"procedures"}
    assert callers("procedures") == set()
    migrate = policies["socle-payment-migrate"]["spec"]
    assert migrate["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in migrate


def test_images_can_be_pinned_by_digest():
    digest = "sha256:" + "a" * 64
    docs = tools.objects(tools.template(sets=(f"services.payment.image.digest={digest}",)))
    (payment,) = [
        d for d in docs if d["metadata"]["name"] == "socle-payment" and d["kind"] == "Deployment"
    ]
    image = payment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/socle-swiss/payment:0.1.0@{digest}"


SECRET_VALUES = {
    "SOCLE_DATABASE_URL": "postgresql+asyncpg://svc:pw@pg-rw.databases:5432/svc",
    "SOCLE_SECRET_KEY": "k" * 48,
    "SOCLE_PAIRWISE_SALT": "a-random-pairwise-salt",
    "SOCLE_S3_ACCESS_KEY": "socle",
    "SOCLE_S3_SECRET_KEY": "a-real-store-secret",
    "SOCLE_KEY_ENCRYPTION_KEY": "q7C4g3wVJg0d8m2kR5pX1sT9vY6bN0aZcE3fH8jK2L4=",
    "SOCLE_PORTAL_CLIENT_SECRET": "the-portal-client-secret",
}


@pytest.mark.parametrize("service", SERVICES)
def test_the_production_example_gives_each_service_settings_it_accepts(service, monkeypatch):
    """What the chart puts in a pod's environment passes the service's own production
    checks, once its Secret holds the required keys."""
    deployment = of_kind("Deployment", production=True)[f"socle-{service}"]
    for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in item:
            monkeypatch.setenv(item["name"], item["value"])
        elif item["valueFrom"].get("secretKeyRef", {}).get("optional") is not True:
            key = item["valueFrom"].get("secretKeyRef", {}).get("key")
            if key:
                monkeypatch.setenv(key, SECRET_VALUES[key])
    settings_module = importlib.import_module(f"socle_{service}.settings")
    (settings_cls,) = [
        v
        for k, v in vars(settings_module).items()
        if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type)
    ]
    settings = settings_cls()
    assert settings.environment == "production"
    assert settings.stream_limits.replicas == 3
    assert settings.resolved_jwks_url.startswith("http://socle-identity/") or service == "identity"
