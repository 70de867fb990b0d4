"""The event cursor: how far this terminal has applied a companion store's event log.

:meth:`EventCursor.apply` runs the change an event asks for and moves the cursor in one transaction,
so after a crash either both happened or neither; an event at or below the cursor is skipped, so
receiving it again (a reconnect replays from the cursor) is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from posdesk.core.ticket import utcnow
from posdesk.store.database import Database
from posdesk.store.models import EventCursorRow


class EventCursor:
    """The cursor of one companion store (``store_key``, e.g. the companion URL and the store id)."""

    def __init__(self, db: Database, store_key: str) -> None:
        self.db = db
        self.store_key = store_key

    def get(self) -> int:
        """The id of the last event applied (0 before the first)."""
        with self.db.reading() as session:
            return _current(session, self.store_key)

    def apply(self, event_id: int, change: Callable[[Session], None]) -> bool:
        """Run ``change(session)`` and advance the cursor to ``event_id``, atomically.

        Returns False (and runs nothing) when the event was already applied. If ``change`` raises, the
        transaction is rolled back and the cursor stays where it was.
        """
        with self.db.session() as session:
            if event_id <= _current(session, self.store_key):
                return False
            change(session)
            session.execute(
                insert(EventCursorRow)
                .values(store_key=self.store_key, last_event_id=event_id, updated_at=utcnow())
                .on_conflict_do_update(
                    index_elements=[EventCursorRow.store_key],
                    set_={"last_event_id": event_id, "updated_at": utcnow()},
                )
            )
            return True


def _current(session: Session, store_key: str) -> int:
    value = session.scalar(select(EventCursorRow.last_event_id).where(EventCursorRow.store_key == store_key))
    return value or 0
