"""Every service's app, built the same way for the tests that go through all of them."""

from __future__ import annotations

import importlib

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
