"""Open statistics: public figures per procedure that match the requests made, small counts
suppressed, and a procedure can opt out."""

from __future__ import annotations

import csv
import io

from socle.db import utcnow
from socle_dev.testing import assert_problem
from tests.support.procedures import agent, example, submitted_parking


async def test_figures_match_the_requests_and_small_counts_are_suppressed(platform):
    await platform.publish("parking-card")
    made = [await submitted_parking(platform, f"citizen-{n}") for n in range(7)]
    staff = agent(platform)
    for request in made[:5]:
        for action in ("in_review", "approve"):
            done = await platform.api.post(
                f"/v1/requests/{request['id']}/actions", json={"action": action}, headers=staff
            )
            assert done.status_code == 200, done.text
    await platform.api.post(
        f"/v1/requests/{made[5]['id']}/actions", json={"action": "in_review"}, headers=staff
    )
    path = f"/open-data/{platform.tenant}/procedures/parking-card/statistics"
    figures = await platform.api.get(path + ".json")  # no token: open data
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert body["suppressed_below"] == 5
    month = utcnow().strftime("%Y-%m")
    assert [m["month"] for m in body["months"]] == [month]
    row = body["months"][0]
    assert row["requests"]["approved"] == 5
    assert row["requests"]["submitted"] is None  # 1: suppressed
    assert row["requests"]["in_review"] is None  # 1: suppressed
    assert row["requests"]["rejected"] is None  # 0 is below 5 too
    assert row["decided"] == 5
    assert 0 <= row["median_days_to_decision"] < 1
    assert "citizen" not in figures.text and made[0]["reference"] not in figures.text

    table = await platform.api.get(path + ".csv")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert rows[0]["month"] == month and rows[0]["approved"] == "5"
    assert rows[0]["submitted"] == ""


async def test_a_procedure_can_opt_out_and_unknown_ones_are_404(platform):
    quiet = example("dog-registration") | {"open_statistics": False}
    created = await platform.api.post("/v1/procedures", json=quiet, headers=platform.admin())
    assert created.status_code == 201, created.text
    published = await platform.api.post(
        f"/v1/procedures/{quiet['slug']}/versions/1/publish", headers=platform.admin()
    )
    assert published.status_code == 200, published.text
    base = f"/open-data/{platform.tenant}/procedures"
    assert_problem(
        await platform.api.get(f"{base}/{quiet['slug']}/statistics.json"),
        404,
        "procedure-not-found",
    )
    assert_problem(
        await platform.api.get(f"{base}/no-such-thing/statistics.csv"), 404, "procedure-not-found"
    )
    assert_problem(
        await platform.api.get("/open-data/elsewhere/procedures/parking-card/statistics.json"),
        404,
        "procedure-not-found",
    )
