"""Templates: create, version, read, preview. One transaction per use case."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from socle.db import utcnow
from socle_notify.common import new_id
from socle_notify.errors import InvalidTemplate, TemplateNotFound
from socle_notify.models import Template, TemplateContent
from socle_notify.render import Rendered, placeholders, render, sms_fragments
from socle_notify.schemas import ContentIn, Language, TemplateCreate, TemplateUpdate


@dataclass(frozen=True)
class Content:
    """One language of one template version (plain values: kept beyond any session)."""

    subject: str | None
    body: str
    html: str | None

    @classmethod
    def of(cls, row: TemplateContent) -> Content:
        return cls(row.subject, row.body, row.html)


@dataclass
class TemplateView:
    template: Template
    version: int
    contents: dict[str, Content]


def _check_contents(
    channel: str, contents: Mapping[Language, ContentIn], max_fragments: int
) -> None:
    errors = []
    for language, content in contents.items():
        if channel == "email" and not (content.subject or "").strip():
            errors.append(
                {
                    "field": f"contents.{language}.subject",
                    "message": "an email template needs a subject",
                    "code": "required",
                }
            )
        if channel == "sms" and (content.subject or content.html):
            errors.append(
                {
                    "field": f"contents.{language}",
                    "message": "an SMS template has only a body",
                    "code": "not-allowed",
                }
            )
        if channel == "sms":
            _, fragments = sms_fragments(content.body)
            if fragments > max_fragments:
                errors.append(
                    {
                        "field": f"contents.{language}.body",
                        "message": f"{fragments} SMS fragments, at most {max_fragments}",
                        "code": "sms-too-long",
                    }
                )
    if errors:
        raise InvalidTemplate(
            "The template is not valid: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors=errors,
        )


_TEMPLATE = select(Template).where(
    Template.id == bindparam("template_id"), Template.tenant == bindparam("tenant")
)
"""Built once (its cache key too): each use is its parameters."""

CONTENTS_KEPT = 512
"""Template versions whose contents stay in memory (a version's contents never change)."""


class Templates:
    def __init__(self, sms_max_fragments: int) -> None:
        self.sms_max_fragments = sms_max_fragments
        self._contents: OrderedDict[tuple[str, int], dict[str, Content]] = OrderedDict()

    async def create(
        self, session: AsyncSession, tenant: str, body: TemplateCreate
    ) -> TemplateView:
        _check_contents(body.channel, body.contents, self.sms_max_fragments)
        if body.default_language not in body.contents:
            raise InvalidTemplate(
                f"default_language {body.default_language} has no content; add it to contents.",
                errors=[
                    {
                        "field": "default_language",
                        "message": "no content in this language",
                        "code": "missing-language",
                    }
                ],
            )
        now = utcnow()
        template = Template(
            id=new_id(),
            tenant=tenant,
            name=body.name,
            channel=body.channel,
            version=1,
            default_language=body.default_language,
            secret=body.secret,
            created_at=now,
            updated_at=now,
        )
        session.add(template)
        await session.flush()
        contents = self._add_contents(session, template, body.contents)
        await session.flush()
        return TemplateView(template, 1, contents)

    def _add_contents(
        self, session: AsyncSession, template: Template, contents: Mapping[Language, ContentIn]
    ) -> dict[str, Content]:
        now = utcnow()
        out: dict[str, Content] = {}
        for language, content in contents.items():
            row = TemplateContent(
                template_id=template.id,
                version=template.version,
                language=language,
                subject=content.subject,
                body=content.body,
                html=content.html,
                created_at=now,
            )
            session.add(row)
            out[language] = Content.of(row)
        return out

    async def update(
        self, session: AsyncSession, tenant: str, template_id: str, body: TemplateUpdate
    ) -> TemplateView:
        template = await self.get_template(session, tenant, template_id, lock=True)
        _check_contents(template.channel, body.contents, self.sms_max_fragments)
        default = body.default_language or template.default_language
        if default not in body.contents:
            raise InvalidTemplate(
                f"The new version has no content in the default language {default}.",
                errors=[
                    {
                        "field": "contents",
                        "message": f"missing {default}",
                        "code": "missing-language",
                    }
                ],
            )
        template.version += 1
        template.default_language = default
        if body.name:
            template.name = body.name
        if body.secret is not None:
            template.secret = body.secret
        template.updated_at = utcnow()
        contents = self._add_contents(session, template, body.contents)
        await session.flush()
        return TemplateView(template, template.version, contents)

    async def get_template(
        self, session: AsyncSession, tenant: str, template_id: str, lock: bool = False
    ) -> Template:
        query = _TEMPLATE.with_for_update() if lock else _TEMPLATE
        found = await session.execute(query, {"template_id": template_id, "tenant": tenant})
        template = found.scalar_one_or_none()
        if template is None:
            raise TemplateNotFound(
                f"No template {template_id} in this tenant; list them with GET /v1/templates."
            )
        return template

    async def view(
        self, session: AsyncSession, tenant: str, template_id: str, version: int | None = None
    ) -> TemplateView:
        template = await self.get_template(session, tenant, template_id)
        wanted = version or template.version
        if wanted < 1 or wanted > template.version:
            raise TemplateNotFound(
                f"Template {template_id} has versions 1 to {template.version}, not {wanted}."
            )
        return TemplateView(template, wanted, await self._contents_of(session, template.id, wanted))

    async def _contents_of(
        self, session: AsyncSession, template_id: str, version: int
    ) -> dict[str, Content]:
        """The contents of one version, by language: read once, then kept (the template row,
        read on every use, still says which version is current and whose template it is)."""
        key = (template_id, version)
        kept = self._contents.get(key)
        if kept is not None:
            self._contents.move_to_end(key)
            return kept
        rows = (
            await session.execute(
                select(TemplateContent).where(
                    TemplateContent.template_id == template_id, TemplateContent.version == version
                )
            )
        ).scalars()
        contents = {r.language: Content.of(r) for r in rows}
        if contents:  # a version is written with its contents, in one transaction
            self._contents[key] = contents
            if len(self._contents) > CONTENTS_KEPT:
                self._contents.popitem(last=False)
        return contents

    async def page(
        self, session: AsyncSession, tenant: str, limit: int, cursor: str | None
    ) -> tuple[list[TemplateView], str | None]:
        query = select(Template).where(Template.tenant == tenant)
        if cursor:
            query = query.where(Template.id < cursor)
        templates = list(
            (await session.execute(query.order_by(Template.id.desc()).limit(limit + 1))).scalars()
        )
        more = len(templates) > limit
        templates = templates[:limit]
        views = []
        for t in templates:
            rows = (
                await session.execute(
                    select(TemplateContent).where(
                        TemplateContent.template_id == t.id, TemplateContent.version == t.version
                    )
                )
            ).scalars()
            views.append(TemplateView(t, t.version, {r.language: Content.of(r) for r in rows}))
        return views, (templates[-1].id if more and templates else None)

    async def count(self, session: AsyncSession, tenant: str) -> int:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(Template).where(Template.tenant == tenant)
                )
            ).scalar_one()
        )

    @staticmethod
    def pick_language(view: TemplateView, wanted: str | None) -> str:
        if wanted and wanted in view.contents:
            return wanted
        return view.template.default_language

    @staticmethod
    def render(view: TemplateView, language: str, values: dict[str, Any]) -> Rendered:
        content = view.contents[language]
        return render(
            subject=content.subject,
            body=content.body,
            html_body=content.html,
            values=values,
            channel=view.template.channel,
        )

    @staticmethod
    def content_placeholders(content: Content) -> list[str]:
        return placeholders(content.subject, content.body, content.html)
