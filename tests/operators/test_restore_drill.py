"""The restore drill of the operations guide, played: a service's database dumped, dropped and
restored, then brought to the release's head; the bucket's objects mirrored, lost and put
back; JetStream's file store copied and served again. Each step checks that what was there
before the backup is there after the restore."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pgserver
from minio import Minio
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from socle.bus import DEAD_LETTER_PREFIX, Bus
from socle.db import create_engine, idempotency_table
from socle_dev.localinfra import NatsServer, free_port
from tests.support.infra import in_thread
from tests.support.payment import payment_cli

PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"


def libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _marker_rows(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(idempotency_table.c.key))
            return [row.key for row in rows]
    finally:
        await engine.dispose()


async def _add_marker(url: str, key: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(idempotency_table).values(
                    scope="drill", key=key, fingerprint="f", status_code=201, response="{}"
                )
            )
    finally:
        await engine.dispose()


def test_a_database_dumped_dropped_and_restored_is_back_at_head(
    migrated_database, postgres_url, monkeypatch, tmp_path, capsys
):
    url = migrated_database("payment")
    name = make_url(url).database
    asyncio.run(_add_marker(url, "before-the-backup"))
    dump = tmp_path / "payment.dump"
    subprocess.run(
        [PG_BIN / "pg_dump", "--format=custom", f"--file={dump}", libpq(url)], check=True
    )

    asyncio.run(_execute(postgres_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
    asyncio.run(_execute(postgres_url, f'CREATE DATABASE "{name}"'))
    subprocess.run(
        [PG_BIN / "pg_restore", "--no-owner", "--exit-on-error", "-d", libpq(url), dump],
        check=True,
    )

    monkeypatch.setenv("SOCLE_DATABASE_URL", url)
    assert in_thread(payment_cli, "migrate") == 0  # what the release's migration Job does
    capsys.readouterr()
    assert in_thread(payment_cli, "migrate", "--check") == 0
    assert "schema at" in capsys.readouterr().out
    assert asyncio.run(_marker_rows(url)) == ["before-the-backup"]


def test_a_bucket_mirrored_then_lost_is_restored_object_for_object(s3_server, tenant, tmp_path):
    client = Minio(
        s3_server.endpoint.removeprefix("http://"),
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=False,
    )
    bucket = f"drill-{tenant}"
    client.make_bucket(bucket)
    originals = {f"{tenant}/documents/{i}": os.urandom(100_000 + i) for i in range(3)}
    for key, data in originals.items():
        client.put_object(bucket, key, io.BytesIO(data), len(data))

    mirror = tmp_path / "mirror"
    for item in client.list_objects(bucket, recursive=True):
        assert item.object_name is not None
        client.fget_object(bucket, item.object_name, str(mirror / item.object_name))
    for key in originals:
        client.remove_object(bucket, key)
    assert list(client.list_objects(bucket, recursive=True)) == []

    for path in mirror.rglob("*"):
        if path.is_file():
            client.fput_object(bucket, str(path.relative_to(mirror)), str(path))
    restored = {
        item.object_name: hashlib.sha256(client.get_object(bucket, item.object_name).read())
        for item in client.list_objects(bucket, recursive=True)
        if item.object_name is not None
    }
    assert {k: v.hexdigest() for k, v in restored.items()} == {
        k: hashlib.sha256(v).hexdigest() for k, v in originals.items()
    }


async def test_jetstream_served_from_a_copy_of_its_file_store_keeps_the_dead_letters(
    tmp_path: Path,
) -> None:
    server = NatsServer.create(tmp_path / "nats", free_port())
    server.start()
    bus = Bus(url=server.url, name="drill")
    await bus.connect()
    letters = [f"event {i}".encode() for i in range(3)]
    for i, data in enumerate(letters):
        await bus.publish(f"{DEAD_LETTER_PREFIX}.notify.socle.t.e", data, f"drill-{i}", {})
    await bus.close()
    server.stop()  # the volume is copied while the server is stopped

    copy = tmp_path / "restored"
    shutil.copytree(server.directory, copy)
    restored = NatsServer.create(copy, free_port())
    restored.start()
    bus = Bus(url=restored.url, name="drill")
    try:
        await bus.connect()
        stream = f"{bus.stream}_DEADLETTER"
        info = await bus.js.stream_info(stream)
        assert info.state.messages == len(letters)
        kept = [
            (await bus.js.get_msg(stream, seq)).data
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
        assert kept == letters
    finally:
        await bus.close()
        restored.stop()
