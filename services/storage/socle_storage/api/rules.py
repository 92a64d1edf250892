"""``/v1/rules``: the tenant's size limit, accepted types and retention per kind."""

from __future__ import annotations

from fastapi import APIRouter

from socle.openapi import problem_responses
from socle_storage import tenant_rules
from socle_storage.api.deps import Reader, StorageDep, Writer
from socle_storage.api.responses import rules_out
from socle_storage.schemas import RulesIn, RulesOut

router = APIRouter(prefix="/v1/rules", tags=["rules"])

ERRORS = problem_responses(
    (401, "No valid access token"), (403, "Not an admin or a service"), (422, "Invalid rules")
)


@router.get("", summary="The tenant's rules", response_model=RulesOut, responses=ERRORS)
async def get_rules(principal: Reader, storage: StorageDep) -> RulesOut:
    return rules_out(principal.tenant, await tenant_rules.get_rules(storage, principal))


@router.put(
    "",
    summary="Set the tenant's rules (admins, services)",
    response_model=RulesOut,
    responses=ERRORS,
)
async def set_rules(body: RulesIn, principal: Writer, storage: StorageDep) -> RulesOut:
    return rules_out(principal.tenant, await tenant_rules.set_rules(storage, principal, body))
