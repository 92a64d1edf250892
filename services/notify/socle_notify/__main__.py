"""``python -m socle_notify migrate|serve|doctor|outbox-status|tenant-sender|webhooks-failed|
webhooks-redeliver``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle.telemetry import configure_logging
from socle_notify.app import create_app
from socle_notify.cli_ops import COMMANDS
from socle_notify.settings import NotifySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main(argv: list[str] | None = None) -> int:
    configure_logging("notify")  # log lines on stderr: stdout carries the commands' JSON
    return int(
        cli_main(
            name="notify",
            settings_cls=NotifySettings,
            create_app=create_app,
            migrations=MIGRATIONS,
            default_port=8004,
            commands=COMMANDS,
            argv=argv,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
