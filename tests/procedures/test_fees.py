"""Fee rules: boundaries of minimum, maximum and rounding, in integer minor units."""

from __future__ import annotations

import pytest

from socle_procedures.definitions.fees import amount

PERMIT = {
    "rule": "rate",
    "field": "cost",
    "basis_points": 20,
    "minimum": 10000,
    "maximum": 500000,
    "round_to": 5,
    "rounding": "half_up",
    "provider": "sandbox",
}


@pytest.mark.parametrize(
    ("cost", "fee"),
    [
        (0, 10000),  # nothing declared: the minimum
        (4_999_900, 10000),  # CHF 49,999: 0.2 % is CHF 99.998, under the minimum
        (5_000_000, 10000),  # CHF 50,000: exactly CHF 100
        (5_000_100, 10000),  # CHF 50,001: CHF 100.002, rounded to 5 centimes: CHF 100.00
        (5_001_300, 10005),  # CHF 50,013: CHF 100.026 -> CHF 100.05 (2.6 rounds half up to 5)
        (5_001_200, 10000),  # CHF 50,012: CHF 100.024 -> CHF 100.00 (2.4 rounds down)
        (5_001_250, 10005),  # CHF 50,012.50: CHF 100.025 -> exactly half: up to 100.05
        (125_000_000, 250000),  # CHF 1.25 million: CHF 2,500
        (250_000_000, 500000),  # CHF 2.5 million: exactly the maximum
        (250_000_100, 500000),  # a franc more: still the maximum
        (10_000_000_000, 500000),  # CHF 100 million: the maximum
    ],
)
def test_rate_with_minimum_maximum_and_rounding(cost, fee):
    assert amount(PERMIT, {"cost": cost}) == fee


def test_rounding_up_and_down():
    up = dict(PERMIT, rounding="up", minimum=0)
    down = dict(PERMIT, rounding="down", minimum=0)
    assert amount(up, {"cost": 5_000_050}) == 10005  # CHF 100.0001 -> 100.05
    assert amount(down, {"cost": 5_002_450}) == 10000  # CHF 100.0049 -> 100.00
    assert amount(dict(PERMIT, round_to=100, minimum=0), {"cost": 5_025_000}) == 10100


def test_a_missing_answer_costs_the_minimum():
    assert amount(PERMIT, {}) == 10000


def test_fixed_and_none():
    assert amount({"rule": "fixed", "amount": 10000, "provider": "sandbox"}, {}) == 10000
    assert amount({"rule": "none"}, {"x": 1}) == 0
    assert amount(None, {}) == 0


def test_per_unit_from_a_choice_of_months():
    parking = {"rule": "per_unit", "field": "months", "unit_amount": 3000, "provider": "qrbill"}
    assert amount(parking, {"months": "1"}) == 3000
    assert amount(parking, {"months": "12"}) == 36000
    assert amount(dict(parking, maximum=30000), {"months": "12"}) == 30000
    assert amount(dict(parking, minimum=5000), {"months": "1"}) == 5000


def test_table_by_value_and_by_range():
    by_size = {
        "rule": "table",
        "field": "size",
        "provider": "sandbox",
        "rows": [{"equals": "small", "amount": 5000}, {"otherwise": True, "amount": 9000}],
    }
    assert amount(by_size, {"size": "small"}) == 5000
    assert amount(by_size, {"size": "large"}) == 9000
    by_area = {
        "rule": "table",
        "field": "area",
        "provider": "sandbox",
        "rows": [{"up_to": 100, "amount": 20000}, {"up_to": 500, "amount": 50000}],
    }
    assert amount(by_area, {"area": 100}) == 20000
    assert amount(by_area, {"area": 101}) == 50000
    assert amount(by_area, {"area": 500}) == 50000
    assert amount(by_area, {"area": 501}) == 0  # no row: no fee
