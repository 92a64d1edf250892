"""Definition schema: every example is valid; invalid definitions are refused at the right
JSON pointer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from socle_procedures.definitions.validation import SCHEMA_PATH, problems

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "services" / "procedures" / "examples").glob("*.yaml"))


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / "services" / "procedures" / "examples" / f"{name}.yaml").read_text()
    )
    return loaded


def test_the_published_schema_is_the_one_the_service_checks():
    published = ROOT / "docs" / "schemas" / "procedure.schema.json"
    assert json.loads(published.read_text()) == json.loads(SCHEMA_PATH.read_text())


def test_there_are_the_three_examples():
    assert [p.stem for p in EXAMPLES] == ["building-permit", "dog-registration", "parking-card"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_valid(path):
    assert problems(yaml.safe_load(path.read_text())) == []


def broken(name: str, change) -> list[tuple[str, str]]:
    document = copy.deepcopy(example(name))
    change(document)
    return [(p.pointer, p.message) for p in problems(document)]


def pointers(found: list[tuple[str, str]]) -> list[str]:
    return [pointer for pointer, _ in found]


def test_an_unknown_field_type_is_refused_at_its_pointer():
    def change(d):
        d["steps"][2]["fields"][0]["type"] = "signature"

    found = broken("building-permit", change)
    assert "/steps/2/fields/0/type" in pointers(found), found


def test_a_missing_title_is_refused_at_the_definition():
    found = broken("dog-registration", lambda d: d.pop("title"))
    assert found == [("", "'title' is a required property")]


def test_an_unknown_language_is_refused():
    found = broken("dog-registration", lambda d: d["title"].update(rm="Annunzia d'in chaun"))
    assert pointers(found) == ["/title"]


def test_a_property_a_field_type_does_not_have_is_refused():
    def change(d):
        d["steps"][0]["fields"][1]["pattern"] = ".*"  # an email field

    found = broken("dog-registration", change)
    assert pointers(found) == ["/steps/0/fields/1"], found
    assert "pattern" in found[0][1]


def test_a_choice_without_options_is_refused():
    def change(d):
        del d["steps"][1]["fields"][1]["options"]

    found = broken("parking-card", change)
    assert pointers(found) == ["/steps/1/fields/1"], found


def test_a_fee_rule_without_its_amount_is_refused():
    found = broken("dog-registration", lambda d: d["fee"].pop("amount"))
    assert pointers(found) == ["/fee"]


def test_a_fee_in_decimal_francs_is_refused():
    found = broken("dog-registration", lambda d: d["fee"].update(amount=100.5))
    assert pointers(found) == ["/fee/amount"]


def test_a_condition_on_a_later_field_is_refused():
    def change(d):
        d["steps"][0]["when"] = {"field": "microchip", "equals": "x"}

    found = broken("dog-registration", change)
    assert pointers(found) == ["/steps/0/when/field"]


def test_a_condition_on_a_missing_option_is_refused():
    def change(d):
        d["steps"][2]["when"] = {"field": "work", "in": ["new", "palace"]}

    found = broken("building-permit", change)
    assert found == [("/steps/2/when/field", "'work' has no option 'palace'")]


def test_a_condition_that_is_code_is_refused():
    def change(d):
        d["steps"][1]["fields"][5]["when"] = {"expression": "__import__('os')"}

    found = broken("dog-registration", change)
    assert pointers(found) == ["/steps/1/fields/5/when"]


def test_a_repeated_field_id_is_refused():
    def change(d):
        d["steps"][1]["fields"][0]["id"] = "name"

    found = broken("dog-registration", change)
    assert pointers(found) == ["/steps/1/fields/0/id"]


def test_a_rate_on_a_text_field_is_refused():
    found = broken("building-permit", lambda d: d["fee"].update(field="description"))
    assert pointers(found) == ["/fee/field"]
    assert "money" in found[0][1]


def test_a_fee_on_an_unknown_field_is_refused():
    found = broken("parking-card", lambda d: d["fee"].update(field="weeks"))
    assert pointers(found) == ["/fee/field"]


def test_a_minimum_above_the_maximum_is_refused():
    found = broken("building-permit", lambda d: d["fee"].update(minimum=900000))
    assert pointers(found) == ["/fee/minimum"]


def test_a_broken_regular_expression_is_refused():
    def change(d):
        d["steps"][1]["fields"][3]["pattern"] = "[0-9"

    found = broken("dog-registration", change)
    assert pointers(found) == ["/steps/1/fields/3/pattern"]


def test_a_bad_slug_and_an_unknown_provider_are_both_reported():
    def change(d):
        d["slug"] = "Dog Registration!"
        d["fee"]["provider"] = "bitcoin"

    found = broken("dog-registration", change)
    assert pointers(found) == ["/fee/provider", "/slug"]


def test_a_document_that_is_not_an_object_is_refused():
    assert pointers([(p.pointer, p.message) for p in problems(["steps"])]) == [""]
