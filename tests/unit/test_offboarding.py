"""Which rows are a tenant's, without any server: the rule ``socle tenants offboard`` deletes
by, applied to every service's tables."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import Column, ColumnElement, ForeignKey, MetaData, String, Table
from sqlalchemy.dialects import postgresql

from socle.offboarding import tenant_conditions


def sql(condition: ColumnElement[bool]) -> str:
    return str(condition.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def test_tables_with_a_tenant_and_their_children_are_the_tenants() -> None:
    metadata = MetaData()
    Table("keys", metadata, Column("kid", String, primary_key=True))
    Table(
        "templates",
        metadata,
        Column("id", String, primary_key=True),
        Column("tenant", String),
    )
    Table(
        "contents",
        metadata,
        Column("id", String, primary_key=True),
        Column("template_id", ForeignKey("templates.id")),
    )
    Table(
        "content_notes",
        metadata,
        Column("id", String, primary_key=True),
        Column("content_id", ForeignKey("contents.id")),
    )
    conditions = tenant_conditions(metadata, "vevey")
    assert [t.name for t in conditions] == ["templates", "contents", "content_notes"]
    assert sql(conditions[metadata.tables["templates"]]) == "templates.tenant = %(tenant_1)s"
    assert "contents.template_id IN (SELECT templates.id" in sql(
        conditions[metadata.tables["contents"]]
    )
    assert "content_notes.content_id IN (SELECT contents.id" in sql(
        conditions[metadata.tables["content_notes"]]
    )


@pytest.mark.parametrize("service", ["identity", "payment", "storage", "notify", "procedures"])
def test_every_table_of_a_service_is_the_tenants_or_the_installations(service: str) -> None:
    """A new table holding a tenant's data without a ``tenant`` column (or a key to a table
    that has one) would survive an offboarding: name it here if it is the installation's."""
    installation = {
        "identity": {"signing_keys", "token_revocations", "client_assertions"},
        "payment": set(),
        "storage": set(),
        "notify": set(),
        "procedures": set(),
    }[service]
    metadata = importlib.import_module(f"socle_{service}.models").Base.metadata
    found = {t.name for t in tenant_conditions(metadata, "vevey")}
    assert found | installation == set(metadata.tables), set(metadata.tables) - found
    assert not found & installation
