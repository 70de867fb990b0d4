"""What every repository of the cache is: its tables read and written inside the caller's session."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.dialects.sqlite import insert

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Row = TypeVar("Row")
Value = TypeVar("Value")


class Repository:
    """Reads and writes inside the caller's session (transaction): the caller commits or rolls back."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _get(self, table: type[Row], key: object, value_of: Callable[[Row], Value]) -> Value | None:
        """The row ``key`` as the database holds it now (other writes skip the session), as a value."""
        row = self.session.get(table, key, populate_existing=True)
        return None if row is None else value_of(row)

    def _insert_once(self, table: type[Any], key: Any, **values: Any) -> None:
        """Insert a row unless one with the same ``key`` column value exists: told twice, kept once."""
        self.session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=[key]))
