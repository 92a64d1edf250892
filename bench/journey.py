"""The citizen journey under load: 50 citizens at once apply for a building permit on the
platform as ``make run`` starts it, through its server-rendered pages as a browser without
JavaScript does (forms, CSRF tokens, cookies, redirects followed): the portal, the login at
identity (OpenID Connect code flow), the procedure's three steps with a PDF plan, the card
form of payment's sandbox page, the submission, "my requests", log out.

``python -m bench.journey`` runs it alone; ``make bench`` adds it to docs/benchmarks.md.
A page is one action of the citizen: the request and the redirects it leads to, until a page
is shown. Figures per page, not asserted: the target is p95 < 1 s for each page, 0 errors.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bench.stack import Memory, Stack, Tally, platform

PROCEDURE = "building-permit"
PASSWORD = "Bench-journey-2026!"
PDF = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
TARGET_P95_MS = 1000.0
CLIENT_TIMEOUT_SECONDS = 30.0


class _Forms(HTMLParser):
    """The forms of a page: action, method, enctype and the values a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind != "file":
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1]["fields"][a["name"]] = ""
        elif tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None


def form(response: httpx.Response, action: str | None = None) -> tuple[str, dict[str, str]]:
    """The URL and fields of the page's form whose action holds ``action`` (or its first
    form with a CSRF token)."""
    parser = _Forms()
    parser.feed(response.text)
    for f in parser.forms:
        fits = action in f["action"] if action is not None else "csrf_token" in f["fields"]
        if fits:
            return urljoin(str(response.url), f["action"]), dict(f["fields"])
    raise Broken(f"no form {action or ''} on {response.url}")


class Broken(Exception):
    """A page was not what the citizen expected: counted as an error of that page."""


@dataclass
class Journey:
    stack: Stack
    think: float
    pages: dict[str, Tally] = field(default_factory=dict)
    hops: dict[str, Tally] = field(default_factory=dict)
    """Each request of the pages, by service, method and path (ids left out)."""
    journeys: int = 0
    broken: list[str] = field(default_factory=list)

    async def page(self, name: str, send: Any, lands: str, status: int = 200) -> httpx.Response:
        """One action of the citizen, timed with its redirects; ``lands`` is a part of the
        path the citizen expects to end on."""
        tally = self.pages.setdefault(name, Tally())
        await asyncio.sleep(self.think * random.uniform(0.5, 1.5))
        started = time.monotonic()
        try:
            response: httpx.Response = await send()
        except httpx.HTTPError as exc:
            tally.add(exc.__class__.__name__, None)
            tally.errors[exc.__class__.__name__] += 1
            raise Broken(f"{name}: {exc!r}") from None
        tally.add(str(response.status_code), time.monotonic() - started)
        if response.status_code != status or lands not in urlsplit(str(response.url)).path:
            tally.errors[str(response.status_code)] += 1
            said = re.search(r'class="error-summary".*?</div>', response.text, re.S)
            why = re.sub(r"<[^>]+>|\s+", " ", said.group(0))[:300] if said else ""
            raise Broken(f"{name}: {response.status_code} at {response.url} {why}")
        return response

    async def _sent(self, request: httpx.Request) -> None:
        request.extensions["bench_started"] = time.monotonic()

    async def _answered(self, response: httpx.Response) -> None:
        request = response.request
        service = next(
            (n for n, u in self.stack.urls.items() if u.endswith(f":{request.url.port}")), "?"
        )
        path = re.sub(r"/[A-Za-z0-9_-]{16,}", "/{id}", request.url.path)
        self.hops.setdefault(f"{service} {request.method} {path}", Tally()).add(
            str(response.status_code), time.monotonic() - request.extensions["bench_started"]
        )

    async def citizen(self, address: str) -> None:
        portal = self.stack.urls["procedures"]
        async with httpx.AsyncClient(
            follow_redirects=True,
            timeout=CLIENT_TIMEOUT_SECONDS,
            headers={"Accept-Language": "fr-CH"},
            event_hooks={"request": [self._sent], "response": [self._answered]},
        ) as browser:
            await self.page("home", lambda: browser.get(portal + "/"), "/")
            await self.page(
                "procedure", lambda: browser.get(f"{portal}/procedures/{PROCEDURE}"), PROCEDURE
            )
            login = await self.page(
                "login page",
                lambda: browser.get(f"{portal}/auth/login?next=/procedures/{PROCEDURE}"),
                "/authorize",
            )
            url, fields = form(login, "/login")
            fields |= {"email": address, "password": PASSWORD}
            landed = await self.page(
                "log in (password)", lambda: browser.post(url, data=fields), "/"
            )
            if landed.url.path == "/consent":
                url, fields = form(landed, "/consent")
                landed = await self.page(
                    "consent",
                    lambda: browser.post(url, data=fields | {"decision": "allow"}),
                    PROCEDURE,
                )
            if PROCEDURE not in landed.url.path:
                raise Broken(f"log in: landed on {landed.url}")
            url, fields = form(landed, "/start")
            step = await self.page(
                "start the request", lambda: browser.post(url, data=fields), "/steps/applicant"
            )
            url, fields = form(step)
            fields |= {"phone": ""}
            step = await self.page(
                "step 1 (applicant)", lambda: browser.post(url, data=fields), "/steps/project"
            )
            url, fields = form(step)
            fields |= {
                "work": "new",
                "site.street": "Rue du Lac",
                "site.number": "3",
                "site.postal_code": "1800",
                "site.locality": "Vevey",
                "description": "Une maison familiale.",
                "construction_cost": "250000",
            }
            step = await self.page(
                "step 2 (project)", lambda: browser.post(url, data=fields), "/steps/documents"
            )
            url, fields = form(step)
            files = {"plan": ("plan.pdf", PDF, "application/pdf")}
            check = await self.page(
                "step 3 (PDF upload)",
                lambda: browser.post(url, data=fields, files=files),
                "/check",
            )
            url, fields = form(check, "/pay")
            card = await self.page(
                "pay (to payment's page)", lambda: browser.post(url, data=fields), "/pay/"
            )
            url, fields = form(card)
            fields |= {"card_number": "4242 4242 4242 4242"}
            check = await self.page(
                "card accepted (back to check)", lambda: browser.post(url, data=fields), "/check"
            )
            url, fields = form(check, "/submit")
            receipt = await self.page(
                "submit", lambda: browser.post(url, data=fields), "/requests/"
            )
            if "sent=1" not in str(receipt.url):
                raise Broken(f"submit: landed on {receipt.url}")
            mine = await self.page(
                "my requests", lambda: browser.get(portal + "/my-requests"), "/my-requests"
            )
            url, fields = form(mine, "/auth/logout")
            await self.page("log out", lambda: browser.post(url, data=fields), "/logged-out")
        self.journeys += 1


async def _register(stack: Stack, addresses: list[str]) -> None:
    """Each citizen registers on identity's page and follows the link of the mail (setup,
    not timed)."""
    client_id = json.loads((stack.var / "portal-client.json").read_text())["client_id"]

    async def one(address: str) -> None:
        async with httpx.AsyncClient(base_url=stack.urls["identity"], timeout=60) as browser:
            page = await browser.get("/register", params={"client_id": client_id})
            url, fields = form(page, "/register")
            fields |= {
                "email": address,
                "password": PASSWORD,
                "given_name": "Léa",
                "family_name": address.split("@")[0],
            }
            done = await browser.post(url, data=fields)
            done.raise_for_status()

    gate = asyncio.Semaphore(4)

    async def gated(address: str) -> None:
        async with gate:
            await one(address)

    await asyncio.gather(*(gated(a) for a in addresses))
    links = await _links(stack, set(addresses))
    async with httpx.AsyncClient(timeout=60) as browser:
        for link in links.values():
            (await browser.get(link)).raise_for_status()


async def _links(stack: Stack, waiting: set[str], within: float = 180) -> dict[str, str]:
    """The verification link mailed to each address (a bounded wait for the mail sink)."""
    found: dict[str, str] = {}
    seen: set[Path] = set()
    deadline = time.monotonic() + within
    while len(found) < len(waiting):
        if time.monotonic() > deadline:
            raise TimeoutError(f"verification mails: {len(found)} of {len(waiting)}")
        for path in (stack.var / "mail").glob("*.eml"):
            if path in seen:
                continue
            seen.add(path)
            message = email.message_from_bytes(path.read_bytes())
            to = str(message["To"])
            body = "".join(
                part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                for part in message.walk()
                if part.get_content_type() == "text/plain"
            )
            link = re.search(r"https?://\S+/verify-email\?token=\S+", body)
            if to in waiting and link:
                found[to] = link.group(0)
        await asyncio.sleep(0.5)
    return found


async def run_journeys(
    stack: Stack, users: int, rounds: int, think: float, spawn: float
) -> tuple[Journey, Memory, float]:
    addresses = [f"citizen{i:03d}@bench.example" for i in range(users)]
    registering = time.monotonic()
    await _register(stack, addresses)
    print(f"{users} citizens registered in {time.monotonic() - registering:.0f} s", flush=True)
    journey = Journey(stack, think)
    memory = Memory(stack.pids)
    memory.sample()

    async def user(i: int, address: str) -> None:
        await asyncio.sleep(i / spawn)
        for _ in range(rounds):
            try:
                await journey.citizen(address)
            except Broken as exc:
                journey.broken.append(str(exc))

    started = time.monotonic()
    tasks = [asyncio.create_task(user(i, a)) for i, a in enumerate(addresses)]
    while not all(t.done() for t in tasks):
        await asyncio.wait(tasks, timeout=2.0)
        memory.sample()
    for t in tasks:
        t.result()
    return journey, memory, time.monotonic() - started


def _setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


async def citizen_journey(folder: Path) -> list[str]:
    """``SOCLE_BENCH_JOURNEY_USERS`` (50) citizens, registered beforehand (not timed), each
    going ``SOCLE_BENCH_JOURNEY_ROUNDS`` (2) times through the whole building-permit journey
    at once, started ``SOCLE_BENCH_JOURNEY_SPAWN`` (2) a second, with a think time before
    each page of ``SOCLE_BENCH_JOURNEY_THINK`` (3 s) ± 50 %, on the platform as ``make run``
    starts it."""
    users = int(_setting("SOCLE_BENCH_JOURNEY_USERS", 50))
    rounds = int(_setting("SOCLE_BENCH_JOURNEY_ROUNDS", 2))
    think = _setting("SOCLE_BENCH_JOURNEY_THINK", 3.0)
    spawn = _setting("SOCLE_BENCH_JOURNEY_SPAWN", 2.0)
    load_at_start, section = os.getloadavg()[0], time.monotonic()
    with platform(folder / "journey-platform") as stack:
        journey, memory, elapsed = await run_journeys(stack, users, rounds, think, spawn)
    overall = Tally()
    lines = [
        "| page | count | p50 | p95 | p99 | errors | p95 < 1 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, tally in journey.pages.items():
        overall.merge(tally)
        p95 = tally.percentile(0.95)
        lines.append(
            f"| {name} | {len(tally.latencies):,} | {tally.percentile(0.5):,.0f} ms | "
            f"{p95:,.0f} ms | {tally.percentile(0.99):,.0f} ms | {tally.errors_text()} | "
            f"{'yes' if p95 < TARGET_P95_MS else 'no'} |"
        )
    hops = [
        f"- {name}: {len(t.latencies):,}, {t.latency_text()}"
        for name, t in sorted(journey.hops.items(), key=lambda h: -h[1].percentile(0.95))
    ]
    errors = sum(overall.errors.values())
    met = errors == 0 and all(t.percentile(0.95) < TARGET_P95_MS for t in journey.pages.values())
    return [
        "## Citizen journey (50 users)",
        "",
        " ".join((__doc__ or "").split("\n\n")[0].split()),
        " ".join((citizen_journey.__doc__ or "").split()),
        "",
        f"Journeys completed: {journey.journeys:,} of {users * rounds:,} in {elapsed:.0f} s; "
        f"pages: {len(overall.latencies):,}, overall p95 {overall.percentile(0.95):,.0f} ms; "
        f"errors: {errors:,}. Target (p95 < 1 s per page, 0 errors): "
        f"{'met' if met else 'not met'}. Load average (1 min) {load_at_start:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end. The section took "
        f"{time.monotonic() - section:.0f} s, platform start-up and registrations included.",
        "",
        *lines,
        "",
        "Each request of those pages (a page is one or more of them), slowest p95 first:",
        "",
        *hops,
        "",
        "Services' RSS: " + "; ".join(f"{name} {memory.text(name)}" for name in memory.pids),
        *(f"- broken journey: {b}" for b in journey.broken[:5]),
        "",
    ]


if __name__ == "__main__":

    async def _main() -> None:
        with tempfile.TemporaryDirectory(prefix="socle-journey-") as tmp:
            print("\n".join(await citizen_journey(Path(tmp))), flush=True)

    asyncio.run(_main())
