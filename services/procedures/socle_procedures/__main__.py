"""``python -m socle_procedures migrate|serve``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle_procedures.app import create_app
from socle_procedures.settings import ProceduresSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> int:
    return cli_main(
        name="procedures",
        settings_cls=ProceduresSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8000,
    )


if __name__ == "__main__":
    raise SystemExit(main())
