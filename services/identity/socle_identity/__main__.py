"""``python -m socle_identity migrate|serve``."""

from pathlib import Path

from socle.cli import main as cli_main
from socle_identity.app import create_app
from socle_identity.settings import IdentitySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main() -> int:
    return cli_main(name="identity", settings_cls=IdentitySettings, create_app=create_app,
                    migrations=MIGRATIONS, default_port=8001)


if __name__ == "__main__":
    raise SystemExit(main())
