"""docs/events.asyncapi.yaml describes every event type a service publishes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOUNS = (
    "user",
    "client",
    "key",
    "token",
    "payment",
    "document",
    "notification",
    "batch",
    "procedure",
    "person",
)
EVENT_TYPE = re.compile(r'"((?:' + "|".join(NOUNS) + r')(?:\.[a-z_]+)+)"')


def published_types() -> set[str]:
    found: set[str] = set()
    modules = [*ROOT.glob("services/*/socle_*/events.py"), ROOT / "shared/socle/privacy.py"]
    for module in modules:
        found |= set(EVENT_TYPE.findall(module.read_text()))
    return found


def test_every_published_event_type_is_described():
    spec = yaml.safe_load((ROOT / "docs" / "events.asyncapi.yaml").read_text())
    described = {m["name"] for m in spec["components"]["messages"].values()}
    published = published_types()
    assert {
        "payment.succeeded",
        "user.registered",
        "document.uploaded",
        "notification.delivered",
        "procedure.request.submitted",
        "person.erased",
    } <= published  # the scan itself works
    assert published - described == set()


def test_each_channel_carries_its_event_on_the_documented_subject():
    spec = yaml.safe_load((ROOT / "docs" / "events.asyncapi.yaml").read_text())
    assert spec["asyncapi"].startswith("3.")
    for channel in spec["channels"].values():
        (ref,) = [m["$ref"] for m in channel["messages"].values()]
        message = spec["components"]["messages"][ref.rsplit("/", 1)[1]]
        assert channel["address"].endswith("." + message["name"])
        assert channel["address"].startswith(("socle.{tenant}.", "socle.platform."))
