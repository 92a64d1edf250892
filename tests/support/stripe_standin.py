"""A small local stand-in for the few Stripe endpoints the payment service uses.

It speaks Stripe's wire format (form-encoded requests, JSON objects, Idempotency-Key) so the
real ``stripe`` SDK talks to it, and it signs webhook events exactly as Stripe does:
``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlparse

from socle_dev.stub_http import Answer, Recorded, StubServer

WEBHOOK_SECRET = "whsec_test_" + "s" * 24
CREATIONS = ("/v1/checkout/sessions", "/v1/refunds")


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class StripeStandIn:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.idempotent: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.api_keys: list[str] = []
        """The API key of every call, in order."""
        self.accounts: list[str | None] = []
        """The ``Stripe-Account`` header of every call (a Connect account), in order."""
        self.outage = False
        self.hold: threading.Event | None = None
        """When set, creations (Checkout Sessions, refunds) wait until it is set: Stripe is
        slow to answer; ``held`` counts the creations waiting."""
        self.held = 0
        self.hold_only: int | None = None
        """When set, only that many more creations are held; those after them pass."""
        self.lock = threading.Lock()
        self._server: StubServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    # ---- what the tests do on "Stripe's side" ---------------------------------------------

    def pay(self, session_id: str) -> dict[str, Any]:
        """The citizen paid on Stripe's page."""
        with self.lock:
            session = self.sessions[session_id]
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=f"pi_{uuid.uuid4().hex[:24]}",
            )
            return json.loads(json.dumps(session))

    def expire(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            session = self.sessions[session_id]
            if session["status"] == "open":
                session["status"] = "expired"
            return json.loads(json.dumps(session))

    def event(self, event_type: str, session: dict[str, Any]) -> bytes:
        return json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "livemode": False,
                "type": event_type,
                "data": {"object": session},
            }
        ).encode()

    def session_for(self, payment_id: str) -> dict[str, Any]:
        return next(s for s in self.sessions.values() if s["client_reference_id"] == payment_id)

    # ---- the HTTP server ------------------------------------------------------------------

    def handle(self, method: str, path: str, form: dict[str, str], key: str | None) -> Any:
        self.requests.append((method, path))
        if self.outage:
            return 503, {"error": {"type": "api_error", "message": "Stripe is down."}}
        if key and key in self.idempotent:
            return 200, self.idempotent[key]
        parts = path.strip("/").split("/")
        status, body = 404, {"error": {"type": "invalid_request_error", "message": "No route"}}
        if method == "POST" and parts == ["v1", "checkout", "sessions"]:
            sid = f"cs_test_{uuid.uuid4().hex}"
            body = {
                "id": sid,
                "object": "checkout.session",
                "url": f"{self.url}/checkout/{sid}",
                "status": "open",
                "payment_status": "unpaid",
                "mode": form["mode"],
                "currency": form["line_items[0][price_data][currency]"],
                "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                "client_reference_id": form.get("client_reference_id"),
                "success_url": form["success_url"],
                "expires_at": int(form.get("expires_at") or time.time() + 86400),
                "metadata": {
                    k[len("metadata[") : -1]: v
                    for k, v in form.items()
                    if k.startswith("metadata[")
                },
                "payment_intent": None,
            }
            self.sessions[sid] = body
            status = 200
        elif len(parts) == 4 and parts[:3] == ["v1", "checkout", "sessions"]:
            if parts[3] in self.sessions:
                status, body = 200, self.sessions[parts[3]]
        elif len(parts) == 5 and parts[4] == "expire" and parts[3] in self.sessions:
            session = self.sessions[parts[3]]
            if session["status"] != "open":
                status = 400
                body = {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Only open sessions can be expired ({session['status']}).",
                    }
                }
            else:
                session["status"] = "expired"
                status, body = 200, session
        elif method == "POST" and parts == ["v1", "refunds"]:
            intent = form["payment_intent"]
            session = next(
                (s for s in self.sessions.values() if s["payment_intent"] == intent), None
            )
            amount = int(form["amount"])
            done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
            if session is None or amount + done > session["amount_total"]:
                status = 400
                body = {"error": {"type": "invalid_request_error", "message": "Refund refused"}}
            else:
                rid = f"re_{uuid.uuid4().hex[:24]}"
                body = {
                    "id": rid,
                    "object": "refund",
                    "amount": amount,
                    "payment_intent": intent,
                    "status": "succeeded",
                }
                self.refunds[rid] = body
                status = 200
        if key and status == 200:
            self.idempotent[key] = body
        return status, body

    def _take_hold(self) -> bool:
        with self.lock:
            if self.hold_only is None:
                return True
            if self.hold_only <= 0:
                return False
            self.hold_only -= 1
            return True

    def start(self) -> None:
        def respond(request: Recorded) -> Answer:
            parsed = urlparse(request.path)
            hold = self.hold
            if (
                hold is not None
                and request.method == "POST"
                and parsed.path in CREATIONS
                and self._take_hold()
            ):
                with self.lock:
                    self.held += 1
                hold.wait(30)
                with self.lock:
                    self.held -= 1
            form = dict(parse_qsl(request.body.decode() or parsed.query))
            with self.lock:
                self.api_keys.append(
                    (request.headers.get("authorization") or "").removeprefix("Bearer ")
                )
                self.accounts.append(request.headers.get("stripe-account"))
                status, body = self.handle(
                    request.method, parsed.path, form, request.headers.get("idempotency-key")
                )
            headers = {
                "Content-Type": "application/json",
                "Request-Id": f"req_{uuid.uuid4().hex[:14]}",
                "Stripe-Should-Retry": "false",
            }
            return Answer(status, json.dumps(body).encode(), headers)

        server = StubServer()
        server.respond = respond
        self._server = server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
