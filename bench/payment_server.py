"""Serve the payment service for the protected-GET bench row, with or without auth.

``python bench/payment_server.py PORT [--no-auth]`` with the usual ``SOCLE_*`` variables.
Without auth, the route's token check is replaced by a fixed principal (a client of the
tenant ``bench`` with ``payments:read``): the same route, the same row read, no token.
"""

from __future__ import annotations

import sys

import uvicorn

from socle.auth import Principal
from socle_payment.api import deps
from socle_payment.app import create_app


def main() -> None:
    port = int(sys.argv[1])
    app = create_app()
    if "--no-auth" in sys.argv:
        fixed = Principal(
            subject="bench", tenant="bench", client_id="bench", scopes=frozenset({"payments:read"})
        )

        async def no_auth() -> Principal:
            return fixed

        reader = deps.Reader.__metadata__[0].dependency  # type: ignore[attr-defined]
        app.dependency_overrides[reader] = no_auth
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
