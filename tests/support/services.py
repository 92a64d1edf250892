"""Every service's app, built the same way for the tests that go through all of them."""

from __future__ import annotations

import importlib
from typing import Any

from socle.config import ServiceSettings

SERVICES = ["identity", "payment", "storage", "notify", "procedures"]


def build(service: str, **settings: object):
    module = importlib.import_module(f"socle_{service}.app")
    settings_module = importlib.import_module(f"socle_{service}.settings")
    cls = next(
        v
        for k, v in vars(settings_module).items()
        if k.endswith("Settings") and k != "ServiceSettings"
    )
    return module.create_app(cls(**settings))


def service_settings(
    database_url: str, nats_url: str, issuer: Any, **extra: Any
) -> ServiceSettings:
    """The settings every service app shares, its tokens checked against the test issuer."""
    return ServiceSettings(
        database_url=database_url,
        nats_url=nats_url,
        issuer=issuer.issuer,
        jwks_url=issuer.jwks_url,
        **extra,
    )
