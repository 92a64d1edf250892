"""The fee of a request from its definition's rule and the answers, in minor units.

Integer arithmetic only: a rate is in basis points (20 = 0.2 %), rounding to ``round_to``
minor units (``half_up`` by default), then the minimum and maximum apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _round(numerator: int, denominator: int, step: int, mode: str) -> int:
    """``numerator / denominator`` rounded to a multiple of ``step``."""
    units, remainder = divmod(numerator, denominator * step)
    if remainder and (mode == "up" or (mode == "half_up" and 2 * remainder >= denominator * step)):
        units += 1
    return units * step


def _bounded(amount: int, fee: Mapping[str, Any]) -> int:
    if "minimum" in fee:
        amount = max(amount, fee["minimum"])
    if "maximum" in fee:
        amount = min(amount, fee["maximum"])
    return amount


def _as_int(answer: Any) -> int:
    if isinstance(answer, bool) or answer is None:
        return 0
    if isinstance(answer, int):
        return answer
    if isinstance(answer, str) and answer.isdigit():
        return int(answer)
    return 0


def _table(fee: Mapping[str, Any], answer: Any) -> int:
    for row in fee["rows"]:
        if "otherwise" in row:
            return int(row["amount"])
        if "equals" in row and answer == row["equals"]:
            return int(row["amount"])
        number = isinstance(answer, int) and not isinstance(answer, bool)
        if "up_to" in row and number and answer <= row["up_to"]:
            return int(row["amount"])
    return 0


def amount(fee: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> int:
    """The fee in minor units (0 when there is none)."""
    if not fee or fee["rule"] == "none":
        return 0
    rule = fee["rule"]
    if rule == "fixed":
        return int(fee["amount"])
    answer = answers.get(fee["field"])
    if rule == "rate":
        base = _as_int(answer)
        raw = _round(
            base * fee["basis_points"],
            10_000,
            fee.get("round_to", 1),
            fee.get("rounding", "half_up"),
        )
        return _bounded(raw, fee)
    if rule == "per_unit":
        return _bounded(_as_int(answer) * fee["unit_amount"], fee)
    return _table(fee, answer)


def provider(fee: Mapping[str, Any] | None) -> str | None:
    if not fee or fee["rule"] == "none":
        return None
    return str(fee["provider"])


def currency(fee: Mapping[str, Any] | None) -> str:
    return str((fee or {}).get("currency", "CHF"))
