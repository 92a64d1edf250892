"""docs/events.asyncapi.yaml describes every event type a service publishes, with the data
schemas of the payload models."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from socle.eventtypes import PAYLOADS
from socle.eventtypes.catalogue import PATH, render

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
    modules = [
        *ROOT.glob("services/*/socle_*/events.py"),
        *ROOT.glob("shared/socle/eventtypes/*.py"),
        ROOT / "shared/socle/privacy.py",
    ]
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


def test_every_documented_event_has_a_payload_model_and_every_model_is_documented():
    spec = yaml.safe_load((ROOT / "docs" / "events.asyncapi.yaml").read_text())
    described = {m["name"] for m in spec["components"]["messages"].values()}
    assert described == set(PAYLOADS)


def test_the_catalogue_data_schemas_are_generated_from_the_payload_models():
    """A field changed in a model and not in the catalogue (or the reverse) fails here:
    ``make events-catalogue`` writes the catalogue from the models."""
    committed = PATH.read_text(encoding="utf-8")
    assert render(committed) == committed, "run make events-catalogue"
    assert (ROOT / "docs" / "events.asyncapi.yaml").resolve() == PATH


def test_a_payload_model_reads_what_its_producer_wrote():
    from socle.events import CloudEvent
    from socle.eventtypes.identity import UserDeleted

    event = UserDeleted(user_id="u-1").event(tenant="vevey", subject="user:u-1")
    wire = CloudEvent.from_bytes(event.to_bytes())
    assert wire.type == "user.deleted" and wire.source == "/socle/identity"
    assert UserDeleted.of(wire) == UserDeleted(user_id="u-1")
