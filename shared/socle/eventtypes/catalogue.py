"""The events catalogue (``events.asyncapi.yaml``) keeps its prose by hand; the schema of
each message's ``data`` is generated from the payload models.

``python -m socle.eventtypes.catalogue`` (``make events-catalogue``) rewrites the file;
``--check`` exits 1 when the committed file is not what the models give."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from socle.events import CATALOGUE
from socle.eventtypes import PAYLOADS

PATH = Path(__file__).resolve().parent.parent / CATALOGUE
HEADER = (
    "# Every event the services publish. The schema of each message's data is generated from\n"
    "# its payload model in socle/eventtypes (make events-catalogue); the rest is written by\n"
    "# hand. tests/test_events_documented.py checks both.\n"
)
DROPPED = {"title", "default"}


def data_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of ``model`` as the catalogue writes it: no references, no titles,
    an optional value as ``type: [<type>, 'null']``."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    schema.pop("description", None)  # the model's docstring is for code readers
    result: dict[str, Any] = _simplify(schema, definitions)
    return result


def _simplify(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_simplify(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        if "description" not in node:
            merged.pop("description", None)  # a nested model's docstring, not the field's
        return _simplify(merged, definitions)
    out = {
        k: _properties(v, definitions) if k == "properties" else _simplify(v, definitions)
        for k, v in node.items()
        if k not in DROPPED
    }
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        (other,) = [o for o in options if o != {"type": "null"}]
        if isinstance(other.get("type"), str):
            del out["anyOf"]
            out = {**other, **out, "type": [other["type"], "null"]}
    return {k: out[k] for k in ("type", *[k for k in out if k != "type"]) if k in out}


def _properties(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Field names are not keywords: a field may be called ``title``."""
    return {name: _simplify(schema, definitions) for name, schema in node.items()}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(text: str) -> str:
    """The catalogue ``text`` with every message's data schema taken from its model."""
    document = yaml.safe_load(text)
    for message in document["components"]["messages"].values():
        model = PAYLOADS.get(message["name"])
        if model is None:
            raise SystemExit(f"{message['name']}: no payload model in socle.eventtypes")
        properties = message["payload"]["allOf"][1]["properties"]
        properties["data"] = data_schema(model)
    documented = {m["name"] for m in document["components"]["messages"].values()}
    missing = sorted(set(PAYLOADS) - documented)
    if missing:
        raise SystemExit(f"not in the catalogue (add their message by hand): {missing}")
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + body


def main(argv: list[str]) -> int:
    current = PATH.read_text(encoding="utf-8")
    generated = render(current)
    if "--check" in argv:
        if generated != current:
            print(f"{PATH.name} is not what the payload models give: make events-catalogue")
            return 1
        return 0
    PATH.write_text(generated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
