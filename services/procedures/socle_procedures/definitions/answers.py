"""Answers checked on the server, field by field, against the definition.

Raw answers come from the API (JSON) or the portal (form strings); both are accepted:
``money`` is an integer of minor units, or a string of francs as typed (``"1'250.50"``);
``date`` is ``YYYY-MM-DD`` (or ``DD.MM.YYYY``); ``yes_no`` is a boolean (or ``yes``/``no``);
``address`` is ``{street, number, postal_code, locality}``; ``point`` is ``{east, north}``
in Swiss LV95 coordinates; ``document`` is ``{document_id, filename}``; checkboxes are a
list of option values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from socle.web.i18n import localized
from socle_procedures.definitions.conditions import holds

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[0-9]{8,15}$")
POSTAL_CODE = re.compile(r"^[0-9]{4}$")
LV95 = {"east": (2_480_000, 2_840_000), "north": (1_070_000, 1_300_000)}
DEFAULT_MAX_LENGTH = {"text": 500, "long_text": 10_000}


@dataclass(frozen=True)
class AnswerError:
    field: str
    code: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)


class Invalid(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid("invalid")
    return str(value).strip()


def _parse_text(spec: Mapping[str, Any], value: Any) -> str:
    text = _text(value)
    long = spec["type"] == "long_text"
    text = text.replace("\r\n", "\n") if long else " ".join(text.split())
    low = spec.get("min_length", 0)
    high = spec.get("max_length", DEFAULT_MAX_LENGTH[spec["type"]])
    if len(text) < low:
        raise Invalid("too_short", min=low)
    if len(text) > high:
        raise Invalid("too_long", max=high)
    if "pattern" in spec and not re.fullmatch(spec["pattern"], text):
        raise Invalid("pattern", message=spec.get("pattern_message"))
    return text


def _parse_number(spec: Mapping[str, Any], value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("not_a_number")
    if isinstance(value, str):
        cleaned = value.strip().replace("'", "").replace("\u2019", "").replace(" ", "")
        if not re.fullmatch(r"-?[0-9]{1,15}", cleaned):
            raise Invalid("not_a_number")
        value = int(cleaned)
    if not isinstance(value, int):
        raise Invalid("not_a_number")
    _bounds(spec, value, value)
    return value


def _bounds(spec: Mapping[str, Any], value: int, shown: Any) -> None:
    if "min" in spec and value < spec["min"]:
        raise Invalid("too_small", min=spec["min"])
    if "max" in spec and value > spec["max"]:
        raise Invalid("too_large", max=spec["max"])


def _parse_money(spec: Mapping[str, Any], value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("not_money")
    if isinstance(value, str):
        cleaned = value.strip().replace("'", "").replace("\u2019", "").replace(" ", "")
        cleaned = cleaned.removeprefix("CHF").removesuffix(".-").replace(",", ".")
        if not re.fullmatch(r"[0-9]{1,13}(\.[0-9]{1,2})?", cleaned):
            raise Invalid("not_money")
        try:
            value = int(Decimal(cleaned) * 100)
        except InvalidOperation:
            raise Invalid("not_money") from None
    if not isinstance(value, int) or value < 0:
        raise Invalid("not_money")
    if "min" in spec and value < spec["min"]:
        raise Invalid("too_small_money", min=spec["min"])
    if "max" in spec and value > spec["max"]:
        raise Invalid("too_large_money", max=spec["max"])
    return value


def _parse_date(spec: Mapping[str, Any], value: Any, today: date) -> str:
    text = _text(value)
    swiss = re.fullmatch(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", text)
    try:
        day = (
            date(int(swiss[3]), int(swiss[2]), int(swiss[1])) if swiss else date.fromisoformat(text)
        )
    except ValueError:
        raise Invalid("not_a_date") from None
    if spec.get("not_in_future") and day > today:
        raise Invalid("date_in_future")
    if spec.get("not_in_past") and day < today:
        raise Invalid("date_in_past")
    if "min" in spec and day < date.fromisoformat(spec["min"]):
        raise Invalid("date_too_early", min=spec["min"])
    if "max" in spec and day > date.fromisoformat(spec["max"]):
        raise Invalid("date_too_late", max=spec["max"])
    return day.isoformat()


def _parse_choice(spec: Mapping[str, Any], value: Any) -> str | list[str]:
    allowed = [o["value"] for o in spec["options"]]
    if spec.get("widget") == "checkboxes":
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and v in allowed for v in values):
            raise Invalid("not_an_option")
        return [v for v in allowed if v in values]
    if not isinstance(value, str) or value not in allowed:
        raise Invalid("not_an_option")
    return value


def _parse_yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "no", "false"):
        return value.lower() in ("yes", "true")
    raise Invalid("not_yes_no")


def _parse_address(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Invalid("invalid")
    parts = {
        k: " ".join(_text(value.get(k, "")).split())
        for k in ("street", "number", "postal_code", "locality")
    }
    if not parts["street"] or not parts["postal_code"] or not parts["locality"]:
        raise Invalid("address_incomplete")
    if not POSTAL_CODE.fullmatch(parts["postal_code"]):
        raise Invalid("postal_code")
    if any(len(v) > 100 for v in parts.values()):
        raise Invalid("too_long", max=100)
    return parts


def _parse_point(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise Invalid("not_a_point")
    point = {}
    for axis, (low, high) in LV95.items():
        raw = value.get(axis)
        try:
            number = (
                int(Decimal(str(raw).strip().replace("'", ""))) if raw not in (None, "") else None
            )
        except InvalidOperation:
            number = None
        if number is None or isinstance(raw, bool):
            raise Invalid("not_a_point")
        if not low <= number <= high:
            raise Invalid("point_outside")
        point[axis] = number
    return point


def _parse_document(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"document_id": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("document_id"), str):
        raise Invalid("not_a_document")
    document_id = value["document_id"].strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", document_id):
        raise Invalid("not_a_document")
    filename = str(value.get("filename", ""))[:255]
    return {"document_id": document_id, "filename": filename}


def _empty(value: Any) -> bool:
    if value is None or value == "" or value == []:
        return True
    if isinstance(value, Mapping):
        return all(_empty(v) for v in value.values())
    return isinstance(value, str) and not value.strip()


def parse_answer(spec: Mapping[str, Any], value: Any, today: date) -> Any:
    """The stored form of one answer, or :class:`Invalid`."""
    kind = spec["type"]
    if kind in ("text", "long_text"):
        return _parse_text(spec, value)
    if kind == "number":
        return _parse_number(spec, value)
    if kind == "money":
        return _parse_money(spec, value)
    if kind == "date":
        return _parse_date(spec, value, today)
    if kind == "email":
        text = _text(value)
        if not EMAIL.fullmatch(text):
            raise Invalid("not_an_email")
        return text
    if kind == "phone":
        text = re.sub(r"[\s().-]", "", _text(value))
        if not PHONE.fullmatch(text):
            raise Invalid("not_a_phone")
        return text
    if kind == "choice":
        return _parse_choice(spec, value)
    if kind == "yes_no":
        return _parse_yes_no(value)
    if kind == "address":
        return _parse_address(value)
    if kind == "point":
        return _parse_point(value)
    return _parse_document(value)


def check_step(
    step: Mapping[str, Any], raw: Mapping[str, Any], earlier: Mapping[str, Any], today: date
) -> tuple[dict[str, Any], list[AnswerError]]:
    """Parse the answers of one step. ``earlier`` holds the answers of the other steps (for
    conditions). Fields hidden by a condition are dropped; missing required ones are errors."""
    values: dict[str, Any] = {}
    errors: list[AnswerError] = []
    context = dict(earlier)
    for spec in step["fields"]:
        if not holds(spec.get("when"), context):
            context.pop(spec["id"], None)
            continue
        value = raw.get(spec["id"])
        if _empty(value):
            if spec.get("required"):
                errors.append(AnswerError(spec["id"], "required"))
            continue
        try:
            values[spec["id"]] = parse_answer(spec, value, today)
        except Invalid as exc:
            errors.append(AnswerError(spec["id"], exc.code, exc.params))
            continue
        context[spec["id"]] = values[spec["id"]]
    return values, errors


def label(spec: Mapping[str, Any], lang: str) -> str:
    return localized(spec["label"], lang)
