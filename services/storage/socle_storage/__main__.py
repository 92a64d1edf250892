"""``python -m socle_storage migrate|serve``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle_storage.app import create_app
from socle_storage.settings import StorageSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> int:
    return cli_main(name="storage", settings_cls=StorageSettings, create_app=create_app,
                    migrations=MIGRATIONS, default_port=8003)


if __name__ == "__main__":
    raise SystemExit(main())
