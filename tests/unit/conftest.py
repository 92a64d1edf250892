"""Unit tests run without servers: asking for one of the session's real servers fails."""

from __future__ import annotations

from typing import Any

import pytest


def _no_server(name: str) -> Any:
    @pytest.fixture(name=name)
    def refuse() -> None:
        pytest.fail(f"a unit test asked for {name}: put it outside tests/unit")

    return refuse


nats_server = _no_server("nats_server")
s3_server = _no_server("s3_server")
smtp_sink = _no_server("smtp_sink")
postgres_url = _no_server("postgres_url")
new_database = _no_server("new_database")
migrated_database = _no_server("migrated_database")
issuer = _no_server("issuer")
