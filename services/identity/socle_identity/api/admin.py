"""Admin API (scope ``identity:admin``): tenants, clients, staff accounts; and the
person's own account (``/v1/me``: read with ``openid``; second factor and deletion only with
identity's own ``identity:account`` token and a recent login)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from socle.auth import Principal, require_scope
from socle.idempotency import IdempotencyKey, idempotent_post
from socle.openapi import problem_responses
from socle.problems import Forbidden
from socle_identity import account, administration, directory, federation, totp
from socle_identity.api.account import AccountHolder
from socle_identity.api.deps import ProviderDep
from socle_identity.models import Client, Tenant, User
from socle_identity.schemas import (
    ClientCreated,
    ClientIn,
    ClientList,
    ClientOut,
    ClientPatch,
    FederationIn,
    FederationOut,
    RecoveryCodes,
    SecretRotated,
    SecretRotation,
    TenantIn,
    TenantOut,
    TotpConfirm,
    TotpStarted,
    UserIn,
    UserOut,
)

router = APIRouter(prefix="/v1", tags=["admin"])

Admin = Annotated[Principal, Depends(require_scope("identity:admin"))]
Person = Annotated[Principal, Depends(require_scope("openid"))]


def tenant_out(tenant: Tenant) -> TenantOut:
    return TenantOut(slug=tenant.slug, name=tenant.name, created_at=tenant.created_at)


def client_out(c: Client) -> ClientOut:
    return ClientOut(
        client_id=c.client_id,
        tenant=c.tenant,
        name=c.name,
        client_type="public" if c.public else "confidential",
        redirect_uris=c.redirect_uris,
        post_logout_redirect_uris=c.post_logout_redirect_uris,
        scopes=c.scopes,
        grant_types=c.grant_types,
        token_endpoint_auth_method=c.token_endpoint_auth_method,
        roles=c.roles,
        signing_alg=c.signing_alg,
        access_token_ttl=c.access_token_ttl,
        refresh_token_ttl=c.refresh_token_ttl,
        subject_type=c.subject_type,
        sector_identifier=c.sector_identifier,
        enabled=c.disabled_at is None,
        created_at=c.created_at,
    )


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        tenant=u.tenant,
        email=u.email,
        roles=u.roles,
        given_name=u.given_name,
        family_name=u.family_name,
        locale=u.locale,
        email_verified=u.email_verified,
        second_factor=u.totp_confirmed,
        created_at=u.created_at,
    )


@router.post(
    "/tenants", status_code=201, response_model=TenantOut, responses=problem_responses(409, 422)
)
async def create_tenant(
    body: TenantIn,
    principal: Admin,
    p: ProviderDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a commune. Only administrators of the platform tenant may."""
    if principal.tenant != p.settings.platform_tenant:
        raise Forbidden(
            "Tenants are created by the platform's administrators "
            f"(tenant {p.settings.platform_tenant!r}).",
            code="platform-admin-required",
        )

    async def create(s: AsyncSession) -> TenantOut:
        return tenant_out(await directory.create_tenant(s, slug=body.slug, name=body.name))

    return await idempotent_post(
        p.sessions,
        principal,
        service="identity",
        action="tenants",
        key=key,
        body=body,
        create=create,
    )


@router.post(
    "/clients", status_code=201, response_model=ClientCreated, responses=problem_responses(409, 422)
)
async def register_client(
    body: ClientIn, principal: Admin, p: ProviderDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Register an application of the caller's commune. The secret is shown once."""

    async def create(s: AsyncSession) -> ClientCreated:
        client, secret = await directory.register_client(
            s,
            tenant=principal.tenant,
            spec=directory.ClientSpec(
                name=body.name,
                public=body.client_type == "public",
                redirect_uris=body.redirect_uris,
                post_logout_redirect_uris=body.post_logout_redirect_uris,
                scopes=body.scopes,
                grant_types=body.grant_types,
                token_endpoint_auth_method=body.token_endpoint_auth_method,
                roles=body.roles,
                signing_alg=body.signing_alg,
                access_token_ttl=body.access_token_ttl,
                refresh_token_ttl=body.refresh_token_ttl,
                jwks=body.jwks,
                subject_type=body.subject_type,
                sector_identifier=body.sector_identifier,
            ),
        )
        return ClientCreated(**client_out(client).model_dump(), client_secret=secret)

    return await idempotent_post(
        p.sessions,
        principal,
        service="identity",
        action="clients",
        key=key,
        body=body,
        create=create,
    )


@router.get("/clients", response_model=ClientList)
async def list_clients(principal: Admin, p: ProviderDep) -> ClientList:
    clients = await administration.list_clients(p, tenant=principal.tenant)
    return ClientList(items=[client_out(c) for c in clients])


@router.get("/clients/{client_id}", response_model=ClientOut, responses=problem_responses(404))
async def get_client(client_id: str, principal: Admin, p: ProviderDep) -> ClientOut:
    return client_out(
        await administration.get_client(p, tenant=principal.tenant, client_id=client_id)
    )


@router.patch(
    "/clients/{client_id}", response_model=ClientOut, responses=problem_responses(404, 422)
)
async def update_client(
    client_id: str, body: ClientPatch, principal: Admin, p: ProviderDep
) -> ClientOut:
    """Disable a client (``{"enabled": false}``: no more tokens, every token it holds refused
    at once, ``token.revoked`` published) or enable it again."""
    client = await administration.set_client_enabled(
        p, tenant=principal.tenant, client_id=client_id, enabled=body.enabled
    )
    return client_out(client)


@router.delete("/clients/{client_id}", status_code=204, responses=problem_responses(404))
async def delete_client(client_id: str, principal: Admin, p: ProviderDep) -> Response:
    """Delete a client; every token it holds is refused (``token.revoked``)."""
    await administration.delete_client(p, tenant=principal.tenant, client_id=client_id)
    return Response(status_code=204)


@router.post(
    "/clients/{client_id}/secret",
    response_model=SecretRotated,
    responses=problem_responses(404, 409),
)
async def rotate_client_secret(
    client_id: str, body: SecretRotation, principal: Admin, p: ProviderDep
) -> SecretRotated:
    """A new client secret, shown once; the old one stops at once. With
    ``revoke_tokens``, the tokens issued until now stop too."""
    client, secret = await administration.rotate_client_secret(
        p, tenant=principal.tenant, client_id=client_id, revoke_tokens=body.revoke_tokens
    )
    return SecretRotated(
        client_id=client.client_id, client_secret=secret, tokens_revoked=body.revoke_tokens
    )


@router.post(
    "/users", status_code=201, response_model=UserOut, responses=problem_responses(409, 422)
)
async def create_user(
    body: UserIn,
    principal: Admin,
    p: ProviderDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Create a staff account (agent, admin) or a citizen account in the caller's commune."""

    async def create(s: AsyncSession) -> UserOut:
        user = await directory.create_user(
            s,
            p.passwords,
            tenant=principal.tenant,
            email=body.email,
            password=body.password,
            roles=list(body.roles),
            given_name=body.given_name,
            family_name=body.family_name,
            locale=body.locale,
            email_verified=True,
        )
        return user_out(user)

    return await idempotent_post(
        p.sessions,
        principal,
        service="identity",
        action="users",
        key=key,
        body=body.model_dump(mode="json", exclude={"password"}),
        create=create,
    )


@router.get("/users/{user_id}", response_model=UserOut, responses=problem_responses(404))
async def get_user(user_id: str, principal: Admin, p: ProviderDep) -> UserOut:
    return user_out(await administration.get_user(p, tenant=principal.tenant, user_id=user_id))


@router.delete("/users/{user_id}", status_code=204, responses=problem_responses(404))
async def delete_user(user_id: str, principal: Admin, p: ProviderDep) -> Response:
    """Erase an account; its tokens are revoked (``token.revoked``) and ``user.deleted`` tells
    the other services to erase their data. ``Location`` names the erasure report."""
    erasure_id = await administration.delete_user(p, tenant=principal.tenant, user_id=user_id)
    return Response(status_code=204, headers={"Location": f"/v1/erasures/{erasure_id}"})


@router.put("/federation", response_model=FederationOut, responses=problem_responses(422))
async def configure_federation(
    body: FederationIn, principal: Admin, p: ProviderDep
) -> FederationOut:
    """Let the commune's citizens log in through an upstream OpenID provider."""
    row = await administration.configure_federation(
        p,
        tenant=principal.tenant,
        name=body.name,
        issuer=body.issuer,
        client_id=body.client_id,
        client_secret=body.client_secret,
        scopes=body.scopes,
    )
    return federation_out(p, row)


@router.get("/federation", response_model=FederationOut, responses=problem_responses(404))
async def show_federation(principal: Admin, p: ProviderDep) -> FederationOut:
    return federation_out(p, await administration.show_federation(p, tenant=principal.tenant))


def federation_out(p: Any, row: Any) -> FederationOut:
    return FederationOut(
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        scopes=row.scopes,
        redirect_uri=p.issuer + federation.CALLBACK_PATH,
    )


@router.get("/me", response_model=UserOut, responses=problem_responses(404))
async def me(principal: Person, p: ProviderDep) -> UserOut:
    return user_out(
        await administration.get_user(p, tenant=principal.tenant, user_id=principal.subject)
    )


@router.delete("/me", status_code=204, responses=problem_responses(404))
async def delete_me(principal: AccountHolder, p: ProviderDep) -> Response:
    """Delete one's own account (identity's account pages, recent login); its tokens are
    revoked and ``user.deleted`` is published."""
    await administration.delete_user(p, tenant=principal.tenant, user_id=principal.subject)
    return Response(status_code=204)


@router.post(
    "/me/totp", status_code=201, response_model=TotpStarted, responses=problem_responses(404, 409)
)
async def start_totp(principal: AccountHolder, p: ProviderDep) -> TotpStarted:
    """Start enrolling an authenticator app: scan ``otpauth_uri``, then confirm a code."""
    return TotpStarted(
        **await totp.start_totp(p, tenant=principal.tenant, user_id=principal.subject)
    )


@router.post(
    "/me/totp/confirm", response_model=RecoveryCodes, responses=problem_responses(404, 409, 422)
)
async def confirm_totp(
    body: TotpConfirm, principal: AccountHolder, p: ProviderDep
) -> RecoveryCodes:
    """Activate the second factor; later logins reach ``acr`` substantial."""
    codes = await totp.confirm_totp(
        p, tenant=principal.tenant, user_id=principal.subject, code=body.code
    )
    return RecoveryCodes(recovery_codes=codes)


@router.delete("/me/totp", status_code=204, responses=problem_responses(404, 409))
async def remove_totp(principal: AccountHolder, p: ProviderDep) -> Response:
    """Remove the second factor and its recovery codes (identity's account pages, recent
    login)."""
    await account.remove_totp(p, tenant=principal.tenant, user_id=principal.subject)
    return Response(status_code=204)
