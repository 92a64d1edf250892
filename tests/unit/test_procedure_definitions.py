"""Procedure definitions without any server: the schema and semantic checks, the fee of a
request, answers as a citizen types them, conditions, and who may move a request."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from socle_procedures.definitions import fees
from socle_procedures.definitions.answers import Invalid, check_step, parse_answer
from socle_procedures.definitions.conditions import holds, relevant_answers, visible_steps
from socle_procedures.definitions.validation import problems
from socle_procedures.requests import EDITABLE, OWNER, STAFF, STATES, TRANSITIONS

EXAMPLES = Path(__file__).resolve().parents[2] / "services" / "procedures" / "examples"
TODAY = date(2026, 12, 2)


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return loaded


# ---- definitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_the_shipped_examples_are_valid(name: str) -> None:
    assert problems(example(name)) == []


def _pointers(document: Any) -> dict[str, str]:
    return {p.pointer: p.message for p in problems(document)}


def test_a_definition_that_is_not_an_object_is_refused() -> None:
    assert problems([]) != []
    assert problems("dog") != []


def test_a_missing_title_is_reported_at_the_root() -> None:
    dog = example("dog-registration")
    del dog["title"]
    found = _pointers(dog)
    assert "" in found and "title" in found[""]


def test_an_unknown_field_type_is_reported_where_it_is() -> None:
    dog = example("dog-registration")
    dog["steps"][1]["fields"][0]["type"] = "colour"
    assert any(p.startswith("/steps/1/fields/0") for p in _pointers(dog))


def test_a_repeated_step_or_field_is_reported() -> None:
    dog = example("dog-registration")
    dog["steps"][1]["id"] = dog["steps"][0]["id"]
    dog["steps"][1]["fields"][1]["id"] = "name"
    found = _pointers(dog)
    assert "repeated" in found["/steps/1/id"]
    assert "repeated" in found["/steps/1/fields/1/id"]


def test_a_condition_on_a_later_or_unknown_field_is_reported() -> None:
    dog = example("dog-registration")
    dog["steps"][0]["fields"][0]["when"] = {"field": "moved_in", "equals": True}
    found = _pointers(dog)
    assert any(p.startswith("/steps/0/fields/0/when") for p in found)


def test_a_yes_no_condition_compared_with_text_is_reported() -> None:
    dog = example("dog-registration")
    dog["steps"][1]["fields"][5]["when"] = {"field": "moved_in", "equals": "yes"}
    found = _pointers(dog)
    assert any("yes/no" in message for message in found.values())


def test_a_bad_pattern_and_inverted_bounds_are_reported() -> None:
    dog = example("dog-registration")
    dog["steps"][1]["fields"][3]["pattern"] = "[0-9"
    dog["steps"][1]["fields"][0]["min_length"] = 50
    dog["steps"][1]["fields"][0]["max_length"] = 10
    found = _pointers(dog)
    assert "not a regular expression" in found["/steps/1/fields/3/pattern"]
    assert "greater than max_length" in found["/steps/1/fields/0/min_length"]


def _with_fee(fee: dict[str, Any]) -> dict[str, Any]:
    dog = example("dog-registration")
    dog["fee"] = {"provider": "sandbox", "currency": "CHF", **fee}
    return dog


def test_a_fee_on_an_unknown_field_is_reported() -> None:
    found = _pointers(_with_fee({"rule": "per_unit", "field": "nope", "unit_amount": 100}))
    assert "not a field" in found["/fee/field"]


def test_a_rate_on_a_text_field_is_reported() -> None:
    found = _pointers(_with_fee({"rule": "rate", "field": "breed", "basis_points": 20}))
    assert "needs a money field, not text" in found["/fee/field"]


def test_a_fee_minimum_above_its_maximum_is_reported() -> None:
    permit = example("building-permit")
    permit["fee"]["minimum"], permit["fee"]["maximum"] = 500_000, 10_000
    assert "greater than maximum" in _pointers(permit)["/fee/minimum"]


def test_a_fixed_fee_has_no_bounds() -> None:
    dog = _with_fee({"rule": "fixed", "amount": 100, "minimum": 500})
    assert "minimum" in _pointers(dog)["/fee"]


def test_a_per_unit_fee_on_choices_that_are_not_numbers_is_reported() -> None:
    parking = example("parking-card")
    months = next(f for _, _, f in _fields(parking) if f["id"] == "months")
    assert months["type"] == "choice"
    months["options"][0]["value"] = "one"
    assert "not a whole number" in _pointers(parking)["/fee/field"]


def _fields(document: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    return [
        (s, f, field)
        for s, step in enumerate(document["steps"])
        for f, field in enumerate(step["fields"])
    ]


def test_the_example_is_not_changed_by_checking_it() -> None:
    dog = example("dog-registration")
    before = copy.deepcopy(dog)
    problems(dog)
    assert dog == before


# ---- fees ----------------------------------------------------------------------------------


def test_no_fee_and_a_fixed_fee() -> None:
    assert fees.amount(None, {}) == 0
    assert fees.amount({"rule": "none"}, {}) == 0
    assert fees.provider({"rule": "none"}) is None
    fixed = {"rule": "fixed", "amount": 10000, "provider": "qrbill"}
    assert fees.amount(fixed, {}) == 10000
    assert fees.provider(fixed) == "qrbill"
    assert fees.currency(fixed) == "CHF"
    assert fees.currency({"currency": "EUR"}) == "EUR"


@pytest.mark.parametrize(
    ("cost", "rounding", "round_to", "fee"),
    [
        (1_000_000, "half_up", 1, 2000),  # 0.2 % of CHF 10,000.00 = CHF 20.00
        (12_345, "half_up", 1, 25),  # 24.69 -> 25
        (12_345, "down", 1, 24),
        (12_345, "up", 1, 25),
        (12_250, "half_up", 1, 25),  # 24.5 rounds up
        (12_249, "half_up", 1, 24),
        (1_234_567, "half_up", 5, 2470),  # 2469.13 -> nearest 5 centimes
        (1_234_567, "up", 100, 2500),  # whole francs, up
        (1_234_567, "down", 100, 2400),
        (0, "half_up", 1, 0),
    ],
)
def test_a_rate_is_rounded_in_integer_minor_units(
    cost: int, rounding: str, round_to: int, fee: int
) -> None:
    rule = {"rule": "rate", "field": "cost", "basis_points": 20}
    rule |= {"rounding": rounding, "round_to": round_to}
    assert fees.amount(rule, {"cost": cost}) == fee


def test_a_rate_is_bounded_by_its_minimum_and_maximum() -> None:
    rule = {"rule": "rate", "field": "cost", "basis_points": 20, "minimum": 5000}
    rule["maximum"] = 100_000
    assert fees.amount(rule, {"cost": 100}) == 5000
    assert fees.amount(rule, {"cost": 10**12}) == 100_000
    assert fees.amount(rule, {}) == 5000  # an unanswered field counts as 0


def test_a_per_unit_fee_counts_units_from_numbers_and_choices() -> None:
    rule = {"rule": "per_unit", "field": "n", "unit_amount": 2500, "maximum": 10_000}
    assert fees.amount(rule, {"n": 3}) == 7500
    assert fees.amount(rule, {"n": "2"}) == 5000  # a choice's value
    assert fees.amount(rule, {"n": 9}) == 10_000
    assert fees.amount(rule, {"n": True}) == 0
    assert fees.amount(rule, {"n": "two"}) == 0


def test_a_table_fee_takes_the_first_matching_row() -> None:
    rule = {
        "rule": "table",
        "field": "area",
        "rows": [
            {"up_to": 100, "amount": 5000},
            {"up_to": 500, "amount": 20000},
            {"otherwise": True, "amount": 90000},
        ],
    }
    assert fees.amount(rule, {"area": 100}) == 5000
    assert fees.amount(rule, {"area": 101}) == 20000
    assert fees.amount(rule, {"area": 10_000}) == 90000
    assert fees.amount(rule, {"area": "100"}) == 90000  # text is no number
    by_choice = {"rule": "table", "field": "zone", "rows": [{"equals": "blue", "amount": 3000}]}
    assert fees.amount(by_choice, {"zone": "blue"}) == 3000
    assert fees.amount(by_choice, {"zone": "red"}) == 0


# ---- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "typed", "stored"),
    [
        ({"type": "text"}, "  Rex   the   dog ", "Rex the dog"),
        ({"type": "long_text"}, "a\r\nb", "a\nb"),
        ({"type": "number"}, "1'250", 1250),
        ({"type": "number"}, 7, 7),
        ({"type": "money"}, "CHF 1'250.50", 125050),
        ({"type": "money"}, "12,5", 1250),
        ({"type": "money"}, "80.-", 8000),
        ({"type": "date"}, "1.2.2024", "2024-02-01"),
        ({"type": "date"}, "2024-02-01", "2024-02-01"),
        ({"type": "email"}, " anna@example.ch ", "anna@example.ch"),
        ({"type": "phone"}, "+41 (79) 123-45-67", "+41791234567"),
        ({"type": "yes_no"}, "Yes", True),
        ({"type": "yes_no"}, False, False),
        (
            {"type": "choice", "options": [{"value": "a"}, {"value": "b"}]},
            "b",
            "b",
        ),
        (
            {"type": "choice", "widget": "checkboxes", "options": [{"value": "a"}, {"value": "b"}]},
            ["b", "a"],
            ["a", "b"],
        ),
        (
            {"type": "address"},
            {"street": " Rue  du Lac ", "number": "1", "postal_code": "1800", "locality": "Vevey"},
            {"street": "Rue du Lac", "number": "1", "postal_code": "1800", "locality": "Vevey"},
        ),
        ({"type": "document"}, "doc_1", {"document_id": "doc_1", "filename": ""}),
    ],
)
def test_an_answer_is_stored_in_its_clean_form(
    spec: dict[str, Any], typed: Any, stored: Any
) -> None:
    assert parse_answer(spec, typed, TODAY) == stored


@pytest.mark.parametrize(
    ("spec", "typed", "code"),
    [
        ({"type": "text", "max_length": 3}, "abcd", "too_long"),
        ({"type": "text", "min_length": 3}, "ab", "too_short"),
        ({"type": "text", "pattern": "[0-9]{15}"}, "12345", "pattern"),
        ({"type": "text"}, True, "invalid"),
        ({"type": "number"}, "12.5", "not_a_number"),
        ({"type": "number"}, True, "not_a_number"),
        ({"type": "number", "max": 10}, 11, "too_large"),
        ({"type": "number", "min": 1}, "0", "too_small"),
        ({"type": "money"}, "12.345", "not_money"),
        ({"type": "money"}, -5, "not_money"),
        ({"type": "money", "max": 100}, "1.01", "too_large_money"),
        ({"type": "date"}, "31.2.2024", "not_a_date"),
        ({"type": "date", "not_in_future": True}, "2026-12-03", "date_in_future"),
        ({"type": "date", "not_in_past": True}, "2026-12-01", "date_in_past"),
        ({"type": "email"}, "anna@", "not_an_email"),
        ({"type": "phone"}, "12", "not_a_phone"),
        ({"type": "yes_no"}, "maybe", "not_yes_no"),
        ({"type": "choice", "options": [{"value": "a"}]}, "z", "not_an_option"),
        (
            {"type": "address"},
            {"street": "x", "postal_code": "18000", "locality": "y"},
            "postal_code",
        ),
        ({"type": "address"}, {"street": "x"}, "address_incomplete"),
        ({"type": "point"}, {"east": 1, "north": 2}, "point_outside"),
        ({"type": "document"}, "../etc/passwd", "not_a_document"),
    ],
)
def test_a_bad_answer_is_refused_with_its_reason(
    spec: dict[str, Any], typed: Any, code: str
) -> None:
    with pytest.raises(Invalid) as refused:
        parse_answer(spec, typed, TODAY)
    assert refused.value.code == code


def test_a_step_reports_missing_required_answers_and_drops_hidden_ones() -> None:
    dog = example("dog-registration")
    step = dog["steps"][1]
    raw = {
        "dog_name": "Rex",
        "birth_date": "2030-01-01",
        "microchip": "756098100123456",
        "moved_in": "no",
        "previous_commune": "Montreux",  # hidden: the dog did not move in
    }
    values, errors = check_step(step, raw, {}, TODAY)
    assert {(e.field, e.code) for e in errors} == {
        ("breed", "required"),
        ("birth_date", "date_in_future"),
    }
    assert values == {"dog_name": "Rex", "microchip": "756098100123456", "moved_in": False}


def test_a_condition_shows_a_field_once_its_answer_matches() -> None:
    condition = {"field": "moved_in", "equals": True}
    assert holds(None, {})
    assert holds(condition, {"moved_in": True})
    assert not holds(condition, {"moved_in": False})
    assert not holds(condition, {})
    assert holds({"not": condition}, {"moved_in": False})
    assert holds({"any": [condition, {"field": "x", "answered": True}]}, {"x": "1"})
    assert not holds({"all": [condition, {"field": "x", "answered": True}]}, {"moved_in": True})


def test_answers_of_hidden_steps_are_not_kept() -> None:
    definition = {
        "steps": [
            {"id": "a", "fields": [{"id": "car", "type": "yes_no"}]},
            {
                "id": "b",
                "when": {"field": "car", "equals": True},
                "fields": [{"id": "plate", "type": "text"}],
            },
        ]
    }
    assert [s["id"] for s in visible_steps(definition, {"car": False})] == ["a"]
    assert relevant_answers(definition, {"car": False, "plate": "VD 1"}) == {"car": False}
    assert relevant_answers(definition, {"car": True, "plate": "VD 1"}) == {
        "car": True,
        "plate": "VD 1",
    }


# ---- requests ------------------------------------------------------------------------------


def test_the_owner_submits_withdraws_and_answers_and_the_commune_decides() -> None:
    assert TRANSITIONS[("draft", "submitted")] == OWNER
    assert TRANSITIONS[("submitted", "withdrawn")] == OWNER
    assert TRANSITIONS[("information_requested", "in_review")] == OWNER
    assert TRANSITIONS[("submitted", "in_review")] == STAFF
    assert TRANSITIONS[("in_review", "approved")] == STAFF
    assert TRANSITIONS[("in_review", "rejected")] == STAFF
    assert TRANSITIONS[("in_review", "information_requested")] == STAFF


@pytest.mark.parametrize("final", ["approved", "rejected", "withdrawn"])
def test_a_decided_or_withdrawn_request_never_moves_again(final: str) -> None:
    assert not [move for move in TRANSITIONS if move[0] == final]


def test_a_request_under_review_cannot_be_withdrawn_and_only_drafts_are_edited() -> None:
    assert ("in_review", "withdrawn") not in TRANSITIONS
    assert ("approved", "rejected") not in TRANSITIONS
    assert {"draft", "information_requested"} == EDITABLE
    assert {s for move in TRANSITIONS for s in move} == set(STATES)
