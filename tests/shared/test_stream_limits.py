"""The streams get the limits of the settings: when created, and when a process finds them
configured otherwise (an operator changed a setting)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from socle.bus import Bus, StreamLimits
from socle.config import ServiceSettings
from socle_dev.localinfra import NatsServer, free_port


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A NATS server of the test's own: its streams may take ``socle.>``."""
    server = NatsServer.create(tmp_path / "nats", free_port())
    server.start()
    yield server
    server.stop()


async def stream_config(bus: Bus, name: str) -> dict[str, object]:
    info = await bus.js.stream_info(name)
    return {
        "max_age": info.config.max_age,
        "max_bytes": info.config.max_bytes,
        "replicas": info.config.num_replicas,
        "duplicate_window": info.config.duplicate_window,
    }


async def test_a_new_stream_gets_the_limits_of_the_settings(nats, tenant):
    settings = ServiceSettings(
        stream_max_age_seconds=3 * 24 * 3600,
        stream_max_bytes=64 * 1024**2,
        stream_duplicate_window_seconds=120,
        dead_letter_max_age_seconds=14 * 24 * 3600,
    )
    bus = Bus(url=nats.url, stream=f"S{tenant}", limits=settings.stream_limits)
    await bus.connect()
    try:
        assert await stream_config(bus, f"S{tenant}") == {
            "max_age": 3 * 24 * 3600,
            "max_bytes": 64 * 1024**2,
            "replicas": 1,
            "duplicate_window": 120,
        }
        dead = await stream_config(bus, f"S{tenant}_DEADLETTER")
        assert dead["max_age"] == 14 * 24 * 3600
    finally:
        await bus.close()


async def test_the_defaults_keep_a_week_of_events(nats, tenant):
    bus = Bus(url=nats.url, stream=f"S{tenant}", limits=ServiceSettings().stream_limits)
    await bus.connect()
    try:
        config = await stream_config(bus, f"S{tenant}")
        assert config["max_age"] == 7 * 24 * 3600
        assert config["max_bytes"] == 1024**3
        assert config["duplicate_window"] == 600
    finally:
        await bus.close()


async def test_an_existing_stream_is_brought_to_the_new_limits(nats, tenant):
    name = f"S{tenant}"
    before = Bus(url=nats.url, stream=name, limits=StreamLimits())
    await before.connect()
    await before.publish(f"socle.{tenant}.user.deleted", b"{}", msg_id="kept")
    await before.close()

    after = Bus(
        url=nats.url,
        stream=name,
        limits=StreamLimits(max_age_seconds=3600, max_bytes=8 * 1024**2),
    )
    await after.connect()
    try:
        config = await stream_config(after, name)
        assert config["max_age"] == 3600
        assert config["max_bytes"] == 8 * 1024**2
        info = await after.js.stream_info(name)
        assert info.state.messages == 1  # the events already there stay
    finally:
        await after.close()


async def test_limits_the_servers_cannot_meet_leave_the_stream_working(nats, tenant):
    """Three replicas on one server are refused by NATS; the service keeps publishing."""
    name = f"S{tenant}"
    first = Bus(url=nats.url, stream=name)
    await first.connect()
    await first.close()
    bus = Bus(url=nats.url, stream=name, limits=StreamLimits(replicas=3))
    await bus.connect()
    try:
        await bus.publish(f"socle.{tenant}.user.deleted", b"{}", msg_id="still-works")
        assert (await stream_config(bus, name))["replicas"] == 1
    finally:
        await bus.close()
