"""Tables of the identity service."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from socle.db import NAMING


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
