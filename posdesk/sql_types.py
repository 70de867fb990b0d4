"""Column types both programs' databases share: the POS cache and the companion."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC, read back timezone-aware on every database; naive input (whose zone is
    unknown) is refused. ``timezone``: the column keeps the zone where the database can (the companion),
    else it holds naive UTC (the POS cache's SQLite file)."""

    impl = DateTime
    cache_ok = True

    def __init__(self, *, timezone: bool) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone  # part of the type's cache key: the two kinds bind differently

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        utc = value.astimezone(UTC)
        return utc if self.timezone else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
