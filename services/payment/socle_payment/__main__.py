"""``python -m socle_payment migrate|serve``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle_payment.app import create_app
from socle_payment.settings import PaymentSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> int:
    return cli_main(
        name="payment",
        settings_cls=PaymentSettings,
        create_app=create_app,
        migrations=MIGRATIONS,
        default_port=8002,
    )


if __name__ == "__main__":
    raise SystemExit(main())
