"""``python -m socle_notify migrate|serve``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle_notify.app import create_app
from socle_notify.settings import NotifySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> int:
    return int(
        cli_main(
            name="notify",
            settings_cls=NotifySettings,
            create_app=create_app,
            migrations=MIGRATIONS,
            default_port=8004,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
