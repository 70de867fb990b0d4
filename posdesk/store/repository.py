"""What every repository of the cache is: its tables read and written inside the caller's session."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Repository:
    """Reads and writes inside the caller's session (transaction): the caller commits or rolls back."""

    def __init__(self, session: Session) -> None:
        self.session = session
