"""Row locks written once (``socle.db.for_update``): ``FOR UPDATE`` on PostgreSQL, nothing on
SQLite (whose writing transactions hold the one write lock from ``BEGIN``)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from socle.db import for_update

PG = cast(Any, postgresql).dialect()  # (its constructor is untyped)
metadata = MetaData()
rows = Table("rows", metadata, Column("id", String, primary_key=True), Column("n", Integer))
parts = Table(
    "parts",
    metadata,
    Column("id", String, primary_key=True),
    Column("row_id", ForeignKey("rows.id")),
)


def sql(query: Any, dialect: Any) -> str:
    return " ".join(str(query.compile(dialect=dialect)).split())


def test_postgresql_locks_the_rows_read() -> None:
    query = for_update(select(rows).where(rows.c.id == "a"))
    assert sql(query, PG).endswith("FOR UPDATE")


def test_a_shared_queue_skips_the_rows_another_worker_holds() -> None:
    query = for_update(select(rows.c.id).limit(5), skip_locked=True)
    assert sql(query, PG).endswith("LIMIT %(param_1)s FOR UPDATE SKIP LOCKED")


def test_a_join_locks_only_the_tables_named() -> None:
    joined = select(rows, parts.c.id).join(parts, parts.c.row_id == rows.c.id)
    assert sql(for_update(joined, of=rows), PG).endswith("FOR UPDATE OF rows")


def test_sqlite_reads_the_same_query_without_a_lock_clause() -> None:
    plain = select(rows).where(rows.c.id == "a")
    for locked in (for_update(plain), for_update(plain, skip_locked=True, of=rows)):
        assert sql(locked, sqlite.dialect()) == sql(plain, sqlite.dialect())
        assert "FOR UPDATE" not in sql(locked, sqlite.dialect())


def test_the_locked_read_refreshes_rows_the_session_already_holds() -> None:
    query = for_update(select(rows))
    assert query.get_execution_options()["populate_existing"] is True
