"""One ``make run`` for the tests of this folder that need the running platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import ROOT, Platform, make_run

HERE = Path(__file__).parent


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("make-run")
    # The README examples run from this folder as from a clone: var/ (the launcher's), .venv/.
    (folder / ".venv").symlink_to(ROOT / ".venv")
    (folder / "services").symlink_to(ROOT / "services")
    with make_run(folder) as started:
        yield started


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Ctrl-C test stops the shared platform: it runs after the other tests of this
    folder (one start of the platform for all of them)."""
    here = [i for i, item in enumerate(items) if item.path.parent == HERE]
    stops = [items[i] for i in here if item_stops(items[i])]
    others = [items[i] for i in here if not item_stops(items[i])]
    for i, item in zip(here, others + stops, strict=True):
        items[i] = item


def item_stops(item: pytest.Item) -> bool:
    return item.path.name == "test_make_run_stops.py"
