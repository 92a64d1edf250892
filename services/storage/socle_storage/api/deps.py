"""Typed dependencies of the storage routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from socle.auth import Principal, principal_dep
from socle_storage.context import Storage


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.runtime.extras["storage"]
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]
Reader = Annotated[Principal, principal_dep("documents:read")]
Writer = Annotated[Principal, principal_dep("documents:write")]
