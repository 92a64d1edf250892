"""``python -m socle_procedures migrate|serve|publish``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from socle.cli import main as cli_main
from socle.config import ServiceSettings
from socle.db import create_engine, create_sessionmaker
from socle.migrations import upgrade
from socle_procedures import catalog
from socle_procedures.app import create_app
from socle_procedures.errors import InvalidDefinition
from socle_procedures.settings import ProceduresSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def _publish_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="a definition, YAML or JSON")
    parser.add_argument("--tenant", required=True, help="the commune, e.g. vevey")


def publish(settings: ServiceSettings, args: argparse.Namespace) -> int:
    """Check a definition and publish it as a new version (nothing when unchanged)."""
    try:
        document: Any = yaml.safe_load(args.file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    upgrade(MIGRATIONS, settings.database_url)

    async def work() -> tuple[str, int, bool]:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                version, changed = await catalog.publish_document(session, args.tenant, document)
                return version.slug, version.version, changed
        finally:
            await engine.dispose()

    try:
        slug, version, changed = asyncio.run(work())
    except InvalidDefinition as exc:
        print(f"error: {args.file} is not a valid procedure definition:", file=sys.stderr)
        for error in exc.errors or []:
            print(f"  {error['pointer'] or '/'}: {error['message']}", file=sys.stderr)
        return 1
    print(json.dumps({"procedure": slug, "version": version, "published": changed}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli_main(
        name="procedures",
        settings_cls=ProceduresSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8000,
        commands={
            "publish": ("publish a procedure definition (YAML/JSON)", _publish_args, publish)
        },
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
