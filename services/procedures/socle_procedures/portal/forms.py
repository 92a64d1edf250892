"""Between HTML forms and answers: what a step's form sends, what its inputs show, how an
answer reads on the "check your answers" page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData

from socle.web.i18n import format_money, localized

PARTS = {"address": ("street", "number", "postal_code", "locality"), "point": ("east", "north")}


def raw_answers(step: Mapping[str, Any], form: FormData) -> dict[str, Any]:
    """The step's answers as the form sent them (strings, lists, parts of composite fields)."""
    raw: dict[str, Any] = {}
    for field in step["fields"]:
        fid, kind = field["id"], field["type"]
        if kind in PARTS:
            raw[fid] = {part: str(form.get(f"{fid}.{part}", "")) for part in PARTS[kind]}
        elif kind == "choice" and field.get("widget") == "checkboxes":
            raw[fid] = [str(v) for v in form.getlist(fid)]
        elif kind == "document":
            continue
        else:
            raw[fid] = str(form.get(fid, ""))
    return raw


def shown_value(field: Mapping[str, Any], answer: Any) -> Any:
    """What an input shows for a saved answer (or the raw input kept after an error)."""
    if answer is None:
        return "" if field["type"] not in PARTS else {}
    if field["type"] == "money" and isinstance(answer, int):
        whole, cents = divmod(answer, 100)
        return f"{whole}.{cents:02d}" if cents else str(whole)
    if field["type"] == "yes_no" and isinstance(answer, bool):
        return "yes" if answer else "no"
    return answer


def readable(field: Mapping[str, Any], answer: Any, lang: str, texts: Mapping[str, str]) -> str:
    """An answer as a sentence for the summary."""
    kind = field["type"]
    if answer is None or answer == "" or answer == []:
        return ""
    if kind == "money":
        return format_money(int(answer), "CHF", lang)
    if kind == "yes_no":
        return texts["yes"] if answer else texts["no"]
    if kind == "choice":
        labels = {o["value"]: localized(o["label"], lang) for o in field["options"]}
        values = answer if isinstance(answer, list) else [answer]
        return ", ".join(str(labels.get(v, v)) for v in values)
    if kind == "address":
        line = " ".join(p for p in (answer.get("street"), answer.get("number")) if p)
        return f"{line}\n{answer.get('postal_code', '')} {answer.get('locality', '')}"
    if kind == "point":
        return f"E {answer.get('east')} / N {answer.get('north')}"
    if kind == "date":
        year, month, day = str(answer).split("-")
        return f"{day}.{month}.{year}"
    if kind == "document":
        return str(answer.get("filename") or answer.get("document_id"))
    return str(answer)
