"""Checks of a procedure definition: the published JSON Schema, then what a schema cannot
say (unique ids, conditions on earlier fields, a fee rule on a field of the right type).
Every problem is reported with the JSON pointer of where it is."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_PATH = Path(__file__).with_name("procedure.schema.json")


@dataclass(frozen=True)
class DefinitionProblem:
    pointer: str
    """RFC 6901 pointer into the definition, e.g. ``/steps/2/fields/0/type``."""
    message: str

    def as_error(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message, "code": "invalid-definition"}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def pointer(*parts: str | int) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The most specific errors: inside an ``allOf``/``if-then``, the failing branch's."""
    if error.validator in ("allOf",) and error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _schema_problems(document: Any) -> list[DefinitionProblem]:
    problems = []
    for error in _validator().iter_errors(document):
        for leaf in _leaves(error):
            message = leaf.message
            if leaf.validator == "oneOf":
                message = (
                    "is not a valid condition (field with equals, in or answered; all; any; not)"
                )
            problems.append(DefinitionProblem(pointer(*leaf.absolute_path), message))
    unique = {(p.pointer, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: p.pointer)


def fields_of(document: dict[str, Any]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    for s, step in enumerate(document["steps"]):
        for f, field in enumerate(step["fields"]):
            yield s, f, field


def _condition_fields(condition: dict[str, Any], at: str) -> Iterator[tuple[str, str, Any]]:
    """(field id, pointer of its reference, compared value or None) for each leaf."""
    for key in ("all", "any"):
        for i, sub in enumerate(condition.get(key, [])):
            yield from _condition_fields(sub, f"{at}/{key}/{i}")
    if "not" in condition:
        yield from _condition_fields(condition["not"], f"{at}/not")
    if "field" in condition:
        values = condition.get("in", [condition["equals"]] if "equals" in condition else [])
        yield condition["field"], f"{at}/field", values


def _check_condition(
    condition: dict[str, Any], at: str, earlier: dict[str, dict[str, Any]]
) -> Iterator[DefinitionProblem]:
    for field_id, where, values in _condition_fields(condition, at):
        target = earlier.get(field_id)
        if target is None:
            yield DefinitionProblem(
                where, f"refers to {field_id!r}, which is not a field asked before this point"
            )
            continue
        if target["type"] == "choice":
            options = {o["value"] for o in target["options"]}
            for value in values:
                if value not in options:
                    yield DefinitionProblem(where, f"{field_id!r} has no option {value!r}")
        if target["type"] == "yes_no" and any(not isinstance(v, bool) for v in values):
            yield DefinitionProblem(
                where, f"{field_id!r} is a yes/no field: compare with true or false"
            )


def _check_field(field: dict[str, Any], at: str) -> Iterator[DefinitionProblem]:
    if field.get("min_length", 0) > field.get("max_length", 10_000):
        yield DefinitionProblem(f"{at}/min_length", "is greater than max_length")
    low, high = field.get("min"), field.get("max")
    if low is not None and high is not None and low > high:
        yield DefinitionProblem(f"{at}/min", "is greater than max")
    if "pattern" in field:
        try:
            re.compile(field["pattern"])
        except re.error as exc:
            yield DefinitionProblem(f"{at}/pattern", f"is not a regular expression: {exc}")
    if field["type"] == "choice":
        values = [o["value"] for o in field["options"]]
        for i, value in enumerate(values):
            if value in values[:i]:
                yield DefinitionProblem(f"{at}/options/{i}/value", f"{value!r} is repeated")


FEE_FIELD_TYPES = {"rate": ("money",), "per_unit": ("number", "choice"), "table": None}


def _check_fee(
    fee: dict[str, Any], fields: dict[str, dict[str, Any]]
) -> Iterator[DefinitionProblem]:
    rule = fee["rule"]
    if "minimum" in fee and "maximum" in fee and fee["minimum"] > fee["maximum"]:
        yield DefinitionProblem("/fee/minimum", "is greater than maximum")
    if rule not in FEE_FIELD_TYPES:
        return
    field = fields.get(fee["field"])
    if field is None:
        yield DefinitionProblem("/fee/field", f"{fee['field']!r} is not a field of this procedure")
        return
    allowed = FEE_FIELD_TYPES[rule]
    if allowed is not None and field["type"] not in allowed:
        yield DefinitionProblem(
            "/fee/field", f"a {rule} fee needs a {' or '.join(allowed)} field, not {field['type']}"
        )
    if rule == "per_unit" and field["type"] == "choice":
        for option in field["options"]:
            if not option["value"].isdigit():
                yield DefinitionProblem(
                    "/fee/field",
                    f"option {option['value']!r} of {fee['field']!r} is not a whole number",
                )
    if rule == "table":
        rows = fee["rows"]
        for i, row in enumerate(rows):
            if "otherwise" in row and i != len(rows) - 1:
                yield DefinitionProblem(f"/fee/rows/{i}", "otherwise must be the last row")
            if "up_to" in row and field["type"] not in ("number", "money"):
                yield DefinitionProblem(
                    f"/fee/rows/{i}/up_to", "up_to needs a number or money field"
                )
            options = {o["value"] for o in field.get("options", [])}
            if "equals" in row and field["type"] == "choice" and row["equals"] not in options:
                yield DefinitionProblem(
                    f"/fee/rows/{i}/equals", f"{fee['field']!r} has no option {row['equals']!r}"
                )


def _semantic_problems(document: dict[str, Any]) -> Iterator[DefinitionProblem]:
    steps_seen: set[str] = set()
    earlier: dict[str, dict[str, Any]] = {}
    for s, step in enumerate(document["steps"]):
        if step["id"] in steps_seen:
            yield DefinitionProblem(pointer("steps", s, "id"), f"step {step['id']!r} is repeated")
        steps_seen.add(step["id"])
        if "when" in step:
            yield from _check_condition(step["when"], pointer("steps", s, "when"), earlier)
        here = dict(earlier)
        for f, field in enumerate(step["fields"]):
            at = pointer("steps", s, "fields", f)
            if field["id"] in here:
                yield DefinitionProblem(f"{at}/id", f"field {field['id']!r} is repeated")
            if "when" in field:
                yield from _check_condition(field["when"], f"{at}/when", here)
            yield from _check_field(field, at)
            here[field["id"]] = field
        earlier = here
    if "fee" in document:
        yield from _check_fee(document["fee"], earlier)


def problems(document: Any) -> list[DefinitionProblem]:
    """Every problem of ``document`` (empty when it is a valid definition)."""
    found = _schema_problems(document)
    if found:
        return found
    return list(_semantic_problems(document))
