"""``/v1/rules``: the tenant's size limit, accepted types and retention per kind."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from socle.problems import PROBLEM_JSON
from socle_storage import tenant_rules
from socle_storage.api.deps import Reader, StorageDep, Writer
from socle_storage.schemas import RulesIn, RulesOut

router = APIRouter(prefix="/v1/rules", tags=["rules"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid access token", "content": {PROBLEM_JSON: {}}},
    403: {"description": "Not an admin or a service", "content": {PROBLEM_JSON: {}}},
    422: {"description": "Invalid rules", "content": {PROBLEM_JSON: {}}},
}


@router.get("", summary="The tenant's rules", response_model=RulesOut, responses=ERRORS)
async def get_rules(principal: Reader, storage: StorageDep) -> RulesOut:
    return await tenant_rules.get_rules(storage, principal)


@router.put(
    "",
    summary="Set the tenant's rules (admins, services)",
    response_model=RulesOut,
    responses=ERRORS,
)
async def set_rules(body: RulesIn, principal: Writer, storage: StorageDep) -> RulesOut:
    return await tenant_rules.set_rules(storage, principal, body)
