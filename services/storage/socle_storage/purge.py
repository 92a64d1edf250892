"""Retention: the purge first finishes a changed retention a crash left half applied, then
removes documents past their retention (or deleted long enough), bytes first then rows, and
the access log's reads older than ``access_log_retention_days``; the reconciler removes
uploads a crash left pending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import structlog
from minio.error import S3Error
from sqlalchemy import Table, and_, func, or_, select

from socle import clock
from socle.locks import exclusive_pass
from socle.periodic import Periodic
from socle.pruning import Rule, prune
from socle_storage import events
from socle_storage.context import Storage
from socle_storage.documents import remove_document_rows
from socle_storage.errors import StoreUnavailable
from socle_storage.ingest import discard_pending
from socle_storage.models import AccessRecord, Document, DocumentVersion
from socle_storage.tenant_rules import finish_pending_reapplies

log = structlog.get_logger("socle_storage.purge")

BATCH = 100


@dataclass
class PurgeReport:
    purged: int = 0
    failed: int = 0
    reconciled: int = 0
    access_records: int = 0
    reapplied: int = 0
    """Documents given a changed retention that a crash had left half applied."""


async def purge_once(storage: Storage) -> PurgeReport:
    """Purge everything due now, in batches of ``BATCH`` until none is left (documents under
    legal hold are kept); an unreachable store ends the run, to be resumed by the next.
    A changed retention not yet given to every stored document is given first, so no
    document goes by an end date its commune has changed."""
    report = PurgeReport()
    report.reapplied = await finish_pending_reapplies(storage)
    now = clock.now()
    grace = now - timedelta(seconds=storage.settings.deleted_grace_seconds)
    due = and_(
        Document.legal_hold.is_(False),
        or_(
            and_(
                Document.status.in_(("active", "quarantined", "deleted")),
                Document.retention_until <= now,
            ),
            and_(Document.status == "deleted", Document.deleted_at <= grace),
        ),
    )
    if storage.report_backlog is not None:
        async with storage.sessions() as session:
            backlog = await session.scalar(select(func.count()).select_from(Document).where(due))
        storage.report_backlog("storage_purge", int(backlog or 0))
    skipped: set[str] = set()  # refused by the store this run: not asked again until the next
    try:
        while True:
            query = select(Document.id).where(due).order_by(Document.id).limit(BATCH)
            if skipped:
                query = query.where(Document.id.notin_(skipped))
            async with storage.sessions() as session, session.begin():
                ids = list((await session.execute(query)).scalars())
            for document_id in ids:
                if await _purge_document(storage, document_id):
                    report.purged += 1
                else:
                    report.failed += 1
                    skipped.add(document_id)
            if len(ids) < BATCH:
                break
        report.reconciled = await reconcile_once(storage)
        report.access_records = await purge_access_log(storage)
    except StoreUnavailable:
        report.failed += 1
        log.warning("purge_interrupted", reason="store unavailable", purged=report.purged)
    if report.purged or report.failed or report.reconciled or report.access_records:
        log.info(
            "purge_done",
            purged=report.purged,
            failed=report.failed,
            reconciled=report.reconciled,
            access_records=report.access_records,
        )
    return report


async def purge_access_log(storage: Storage) -> int:
    """Delete the reads older than the access log's retention, in batches; how many."""
    days = storage.settings.access_log_retention_days
    rule = Rule("access_log", cast(Table, AccessRecord.__table__), "at", days * 24 * 3600)
    return await prune(storage.sessions, rule, batch=BATCH * 10)


async def _purge_document(storage: Storage, document_id: str) -> bool:
    async with storage.sessions() as session, session.begin():
        versions = list(
            (
                await session.execute(
                    select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                )
            ).scalars()
        )
    try:
        for version in versions:
            await storage.store.remove(version.bucket, version.object_key)
    except S3Error as exc:
        log.warning("purge_deferred", document_id=document_id, reason=exc.__class__.__name__)
        return False
    async with storage.sessions() as session, session.begin():
        doc = await session.get(Document, document_id)
        if doc is None or doc.legal_hold:
            return False
        reason = "deleted" if doc.status == "deleted" else "retention"
        await events.purged(session, doc, reason)
        await remove_document_rows(session, document_id)
    log.info("document_purged", document_id=document_id, reason=reason)
    return True


async def reconcile_once(storage: Storage) -> int:
    """Remove uploads left pending longer than ``pending_timeout_seconds`` (a crash between
    writing the bytes and committing the row): their bytes, then their rows, in batches until
    none is left."""
    limit = clock.now() - timedelta(seconds=storage.settings.pending_timeout_seconds)
    removed = 0
    kept: set[str] = set()
    while True:
        query = (
            select(DocumentVersion)
            .where(DocumentVersion.status == "pending", DocumentVersion.created_at <= limit)
            .order_by(DocumentVersion.id)
            .limit(BATCH)
        )
        if kept:
            query = query.where(DocumentVersion.id.notin_(kept))
        async with storage.sessions() as session, session.begin():
            rows = (await session.execute(query)).scalars()
            pending = [(v.document_id, v.id, v.number, v.bucket, v.object_key) for v in rows]
        for item in pending:
            if await discard_pending(storage, *item):
                removed += 1
                log.info("pending_upload_removed", document_id=item[0], version=item[2])
            else:
                kept.add(item[1])
        if len(pending) < BATCH:
            return removed


def purge_loop(storage: Storage) -> Periodic:
    """The periodic purge of a running service (every ``purge_interval_seconds``)."""

    async def work() -> int:
        report = await purge_once(storage)
        return report.purged + report.reconciled + report.access_records + report.reapplied

    # one replica at a time: the others find the lock held and skip their turn
    return Periodic(
        "storage_purge",
        storage.settings.purge_interval_seconds,
        exclusive_pass(storage.sessions, "storage-purge", work),
    )
