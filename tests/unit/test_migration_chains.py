"""Each service's migrations form one line: unique revisions, one head, no gap, so that
``migrate`` (and the chart's migration hook) never stops on "multiple heads"."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / f"socle_{p.name}").is_dir())


def _revisions(service: str) -> dict[str, str | None]:
    """``revision -> down_revision`` of the service's migration files."""
    chain: dict[str, str | None] = {}
    folder = ROOT / "services" / service / f"socle_{service}" / "migrations" / "versions"
    for path in sorted(folder.glob("*.py")):
        values: dict[str, str | None] = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                value = node.value.value if isinstance(node.value, ast.Constant) else None
                if name in ("revision", "down_revision") and isinstance(value, str | None):
                    values[name] = value
        revision = values["revision"]
        assert revision is not None
        assert revision not in chain, f"{service}: revision {revision} appears twice ({path.name})"
        chain[revision] = values.get("down_revision")
    return chain


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrations_of_a_service_form_one_line(service: str) -> None:
    chain = _revisions(service)
    assert chain, f"{service} has no migration"
    parents = [down for down in chain.values() if down is not None]
    assert len(parents) == len(set(parents)), f"{service}: two migrations revise the same one"
    heads = set(chain) - set(parents)
    assert len(heads) == 1, f"{service}: several heads {sorted(heads)}"
    roots = [rev for rev, down in chain.items() if down is None]
    assert len(roots) == 1, f"{service}: several first migrations {roots}"
    assert all(down in chain for down in parents), f"{service}: a migration revises an unknown one"
