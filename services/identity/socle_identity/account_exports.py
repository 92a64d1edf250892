"""The person's own exports on identity's account pages, through the browser's login session:
ask for one, see its state, download it while its link is valid."""

from __future__ import annotations

from sqlalchemy import select

from socle_identity import errors, exports, sessions
from socle_identity.errors import LoginRequired
from socle_identity.exports import ExportReport
from socle_identity.models import Export, User
from socle_identity.provider import Provider


async def _person(provider: Provider, cookie: str | None) -> User:
    async with provider.sessions() as session:
        current = await sessions.current_session(provider, session, cookie)
        user = await session.get(User, current.user_id) if current else None
    if user is None:
        raise LoginRequired("Log in first: this page works with identity's login session.")
    return user


async def logged_in(provider: Provider, cookie: str | None) -> bool:
    try:
        await _person(provider, cookie)
    except LoginRequired:
        return False
    return True


async def ask(provider: Provider, cookie: str | None) -> str:
    """Ask every service for the logged-in person's data; the export's id."""
    user = await _person(provider, cookie)
    async with provider.sessions() as session, session.begin():
        return await exports.request_export(
            session,
            tenant=user.tenant,
            user_id=user.id,
            services=provider.settings.export_services,
        )


async def latest(provider: Provider, cookie: str | None) -> ExportReport | None:
    """The person's most recent export, if any."""
    user = await _person(provider, cookie)
    async with provider.sessions() as session:
        export_id = await session.scalar(
            select(Export.id)
            .where(Export.tenant == user.tenant, Export.user_id == user.id)
            .order_by(Export.requested_at.desc())
            .limit(1)
        )
    if export_id is None:
        return None
    try:
        return await state(provider, cookie, export_id)
    except errors.ExportExpired:
        return None


async def state(provider: Provider, cookie: str | None, export_id: str) -> ExportReport:
    """The state of one of the person's exports (another's is unknown: 404; an expired one
    410)."""
    user = await _person(provider, cookie)
    async with provider.sessions() as session:
        report = await exports.report(
            session,
            tenant=user.tenant,
            export_id=export_id,
            answer_seconds=provider.settings.export_answer_seconds,
            user_id=user.id,
        )
    if report.status == "expired":
        raise errors.ExportExpired("The link's time is over and the export was deleted.")
    return report


async def archive(provider: Provider, cookie: str | None, export_id: str) -> bytes:
    """The ZIP of one of the person's ready exports."""
    user = await _person(provider, cookie)
    return await exports.archive(
        provider.sessions,
        provider.settings,
        tenant=user.tenant,
        export_id=export_id,
        user_id=user.id,
    )
