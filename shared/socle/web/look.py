"""The commune's look for pages of services that serve every commune alike (identity's login,
payment's pages): its name, colour and the portal to go back to, from the environment
(``SOCLE_COMMUNE_NAME``, ``SOCLE_COMMUNE_COLOUR``, ``SOCLE_PORTAL_URL``)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from socle.web.layout import HERE, Commune


class CommuneLook(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCLE_", extra="ignore")

    commune_name: str = "Socle"
    """The name in the header of every page."""
    commune_colour: str = "#1d4e89"
    """The header's colour, ``#rrggbb``."""
    portal_url: str = ""
    """The citizen portal: where pages that end a journey lead back to."""

    @field_validator("commune_colour")
    @classmethod
    def _hex(cls, value: str) -> str:
        if len(value) != 7 or not value.startswith("#"):
            raise ValueError("SOCLE_COMMUNE_COLOUR must be a #rrggbb colour")
        int(value[1:], 16)
        return value

    @property
    def commune(self) -> Commune:
        return Commune(
            name=self.commune_name, colour=self.commune_colour, home_url=self.portal_url or "/"
        )


def inline_stylesheet(path: Path = HERE / "assets" / "socle.css") -> Markup:
    """Socle's stylesheet for a ``<style>`` element (pages of services that do not serve
    ``/assets/socle/socle.css`` themselves)."""
    return Markup(path.read_text())  # noqa: S704  (our own file, not user input)
