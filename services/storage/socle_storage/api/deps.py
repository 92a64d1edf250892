"""Typed dependencies of the storage routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from socle.auth import Principal, principal_dep
from socle.service import context_dependency
from socle_storage.context import Storage

StorageDep = Annotated[Storage, Depends(context_dependency(Storage))]
"""The service's context."""
Reader = Annotated[Principal, principal_dep("documents:read")]
Writer = Annotated[Principal, principal_dep("documents:write")]
