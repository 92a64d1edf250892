"""Conditions of a definition, evaluated against answers: data, never code (no eval)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _matches(answer: Any, value: Any) -> bool:
    if isinstance(answer, list):  # checkboxes: one of the ticked values
        return value in answer
    same: bool = answer == value
    return same


def holds(condition: Mapping[str, Any] | None, answers: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds for ``answers``; no condition always holds."""
    if condition is None:
        return True
    if "all" in condition:
        return all(holds(c, answers) for c in condition["all"])
    if "any" in condition:
        return any(holds(c, answers) for c in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], answers)
    answer = answers.get(condition["field"])
    if "answered" in condition:
        return (answer not in (None, "", [])) is bool(condition["answered"])
    if "equals" in condition:
        return _matches(answer, condition["equals"])
    return any(_matches(answer, v) for v in condition["in"])


def visible_steps(
    definition: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The steps a person is asked, in order, given what they answered so far."""
    return [s for s in definition["steps"] if holds(s.get("when"), answers)]


def visible_fields(step: Mapping[str, Any], answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [f for f in step["fields"] if holds(f.get("when"), answers)]


def relevant_answers(definition: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Only the answers of fields still shown (a changed answer can hide later ones)."""
    kept: dict[str, Any] = {}
    for step in definition["steps"]:
        if not holds(step.get("when"), kept | dict(answers)):
            continue
        for field in step["fields"]:
            if field["id"] in answers and holds(field.get("when"), answers):
                kept[field["id"]] = answers[field["id"]]
    return kept
