"""The payment page served again, without rebuilding it, while nothing it was made from has changed.

Most opens of a link find what the page shows unchanged: a phone reloading, a client coming back, many
clients of one store at once. Building the page reads the invoice, its store, its payments and the
client's saved cards through the ORM, prices the invoice and formats every amount: about 1 ms of CPU,
four times the framework's own cost of a request (``bench page``). Here those rows are read as they
are, in one or two plain statements on a pooled DBAPI connection (no session, no ORM objects), and
compared with the rows the page last served for that link was made from, together with the query
string, ``Accept-Language`` and ``Cookie``. The same rows: the same page. Anything else (a payment, a
new version, an opened, paid, revoked or expired link, a new saved card, a store setting, another
language) is a different read, and the ordinary path (``routes._show_invoice``) makes the page again.

A page is remembered only when the ordinary path that made it

- read no table but the four read here (recorded on every miss: a read added elsewhere turns this off
  for that page rather than serve it stale);
- saw the same rows before and after it ran (no write raced it, its own first-open mark included);
- was served a page the renderer had already kept for the same inputs (so it is the same for the same
  rows: not Cloud9's per-render card form, see ``rendering.py``);
- made no gateway call (a Stripe client's cards are refreshed by the ordinary path, see :func:`refuse`).

Time is the one input not in the rows: the link's expiry is checked on every serve. Every worker reads
the rows from the database on every request, so several workers (or processes) stay right.

On SQLite the rows are read on the event loop itself (:meth:`PageMemo.rows_at_once`: the memo's own
read-only connection to the file, one indexed read of ~50 µs that never waits) and a remembered page is
answered from there: handing the request to the thread pool and back cost more CPU than the rest of the
answer (``bench page``). A read that cannot answer at once (the connection in use, the file busy), a
page not remembered, and PostgreSQL (a network round trip) go to the thread pool as before.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, bindparam, event, select
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.util import find_tables

from posdesk.companion.database import Database
from posdesk.companion.models import Invoice, Payment, SavedCard, Store, utcnow
from posdesk.core.links import hash_token

READ_TABLES = frozenset(
    {Invoice.__tablename__, Store.__tablename__, Payment.__tablename__, SavedCard.__tablename__}
)
REMEMBERED = 1024  # links per process (a page and the rows it was made from: about 10-20 KB)
_TRANSACTION_WORDS = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})

# Every column of each table (a column added later is compared too), all payments of the invoice
# (not only the counted ones), every card of the client: a superset of what the page shows.
_INVOICE_ROWS = (
    select(Invoice.__table__, Store.__table__, Payment.__table__)
    .select_from(Invoice.__table__)
    .join(Store.__table__, Store.__table__.c.id == Invoice.__table__.c.store_id)
    .outerjoin(Payment.__table__, Payment.__table__.c.invoice_id == Invoice.__table__.c.id)
    .where(Invoice.__table__.c.token_hash == bindparam("token_hash"))
    .order_by(Payment.__table__.c.id)
)
_CARD_ROWS = (
    select(SavedCard.__table__)
    .where(
        SavedCard.__table__.c.store_id == bindparam("store_id"),
        SavedCard.__table__.c.client_id == bindparam("client_id"),
    )
    .order_by(SavedCard.__table__.c.id)
)
_STORE_ID = list(_INVOICE_ROWS.selected_columns).index(Invoice.__table__.c.store_id)
_CLIENT_ID = list(_INVOICE_ROWS.selected_columns).index(Invoice.__table__.c.client_id)


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (qmark, format), or None (named)

    @classmethod
    def of(cls, statement: Select[Any], dialect: Dialect) -> _Statement:
        compiled = statement.compile(dialect=dialect)
        return cls(str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None)

    def args(self, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        return params if self.positions is None else tuple(params[name] for name in self.positions)


@dataclass(frozen=True, slots=True)
class _Kept:
    made_from: tuple[Any, ...]
    html: bytes
    csp_extra: Mapping[str, list[str]] | None
    expires_at: datetime


class PageMemo:
    """The last page served for each link (one per link, the most recently used :data:`REMEMBERED`)."""

    def __init__(self, db: Database) -> None:
        self.engine: Engine = db.engine
        self._invoice = _Statement.of(_INVOICE_ROWS, self.engine.dialect)
        self._cards = _Statement.of(_CARD_ROWS, self.engine.dialect)
        self._pages: OrderedDict[str, _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self._file = db.engine.url.database if db.is_sqlite else None
        self._here: sqlite3.Connection | None = None
        self._here_lock = threading.Lock()
        _record_tables(self.engine)

    def rows_at_once(self, request: Request, token: str) -> tuple[Any, ...] | None:
        """:meth:`rows` without waiting for anything, or None: SQLite only (read on the caller's thread,
        the event loop, through this memo's own read-only connection); None when no page is remembered
        for ``token``, when that connection is in use or the file cannot be read at once, and on
        PostgreSQL."""
        if self._file is None or token not in self._pages:  # nothing to compare with: the thread pool's path
            return None
        if not self._here_lock.acquire(blocking=False):
            return None
        try:
            if self._here is None:
                # timeout 0: a busy file answers at once (the caller then takes the thread pool's path).
                here = sqlite3.connect(self._file, timeout=0, isolation_level=None, check_same_thread=False)
                here.execute("PRAGMA query_only=1")
                self._here = here
            return self._rows_on(self._here, request, token)
        except sqlite3.Error:
            return None
        finally:
            self._here_lock.release()

    def rows(self, request: Request, token: str) -> tuple[Any, ...]:
        """What the page for ``token`` would be made from now (one snapshot per statement)."""
        connection = self.engine.raw_connection()
        try:
            return self._rows_on(connection, request, token)
        finally:
            connection.close()  # back to the pool, rolled back

    def _rows_on(self, connection: Any, request: Request, token: str) -> tuple[Any, ...]:
        cursor = connection.cursor()
        try:
            cursor.execute(self._invoice.sql, self._invoice.args({"token_hash": hash_token(token)}))
            invoice = tuple(tuple(row) for row in cursor.fetchall())
            cards: tuple[Any, ...] = ()
            if invoice and invoice[0][_CLIENT_ID] is not None:
                params = {"store_id": invoice[0][_STORE_ID], "client_id": invoice[0][_CLIENT_ID]}
                cursor.execute(self._cards.sql, self._cards.args(params))
                cards = tuple(tuple(row) for row in cursor.fetchall())
        finally:
            cursor.close()
        headers = request.headers
        asked = (request.url.query, headers.get("accept-language"), headers.get("cookie"))
        return (invoice, cards, asked)

    def page(self, token: str, made_from: tuple[Any, ...], now: datetime | None = None) -> _Kept | None:
        with self._lock:
            kept = self._pages.get(token)
            if kept is not None:
                self._pages.move_to_end(token)
        if kept is None or kept.made_from != made_from or (now or utcnow()) >= kept.expires_at:
            return None
        return kept

    def keep(self, token: str, kept: _Kept) -> None:
        with self._lock:
            self._pages[token] = kept
            self._pages.move_to_end(token)
            while len(self._pages) > REMEMBERED:
                self._pages.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._pages.clear()


def memo_for(request: Request) -> PageMemo:
    state = request.app.state
    memo: PageMemo | None = getattr(state, "page_memo", None)
    if memo is None:
        with _memo_lock:
            memo = getattr(state, "page_memo", None)
            if memo is None:
                memo = state.page_memo = PageMemo(state.db)
    return memo


_memo_lock = threading.Lock()


# -- what the ordinary path tells us ---------------------------------------------------------------------
def refuse(request: Request) -> None:
    """The page being made consulted more than the database (a gateway): never remember it."""
    request.state.page_memo_refused = True


def may_keep(request: Request, expires_at: datetime) -> None:
    """The ordinary path made a plain page (no first-open mark, no error): it may be remembered."""
    request.state.page_memo_expires_at = expires_at


def rendered_kept_page(request: Request) -> None:
    """The renderer served a page it had kept for the same inputs (see ``rendering.render``)."""
    request.state.page_memo_rendered_kept = True


# -- the tables the ordinary path reads ------------------------------------------------------------------
_recording = threading.local()


class _Reads:
    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.unknown = False


def _record_tables(engine: Engine) -> None:
    if getattr(engine, "_posdesk_page_tables", False):
        return
    engine._posdesk_page_tables = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        reads: _Reads | None = getattr(_recording, "reads", None)
        if reads is None:
            return
        compiled = getattr(context, "compiled", None)
        if compiled is not None and compiled.statement is not None:
            reads.tables.update(t.name for t in find_tables(compiled.statement, include_crud=True))
        elif statement.split(None, 1)[:1] and statement.split(None, 1)[0].upper() not in _TRANSACTION_WORDS:
            reads.unknown = True  # plain SQL: its tables are not known, so the page is not remembered


class recording:
    """``with recording() as reads:``: the tables this thread's statements touch, while in the block."""

    def __enter__(self) -> _Reads:
        self.reads = _Reads()
        self.previous = getattr(_recording, "reads", None)
        _recording.reads = self.reads
        return self.reads

    def __exit__(self, *_exc: object) -> None:
        _recording.reads = self.previous


# -- the page ------------------------------------------------------------------------------------------
def kept_response(request: Request, kept: _Kept) -> HTMLResponse:
    if kept.csp_extra is not None:
        request.state.csp_extra = {name: list(sources) for name, sources in kept.csp_extra.items()}
    return HTMLResponse(kept.html, headers={"Cache-Control": "no-store"})


def remember(
    request: Request, memo: PageMemo, token: str, before: tuple[Any, ...], reads: _Reads, response: Any
) -> None:
    """Remember ``response`` for ``token`` if the ordinary path said it may and nothing moved meanwhile."""
    state = request.state
    expires_at = getattr(state, "page_memo_expires_at", None)
    if (
        expires_at is None
        or getattr(state, "page_memo_refused", False)
        or not getattr(state, "page_memo_rendered_kept", False)
        or reads.unknown
        or not reads.tables <= READ_TABLES
        or not isinstance(response, HTMLResponse)
        or response.status_code != 200
    ):
        return
    after = memo.rows(request, token)
    if after != before:
        return
    csp = getattr(state, "csp_extra", None)
    memo.keep(
        token, _Kept(before, bytes(response.body), csp and {k: list(v) for k, v in csp.items()}, expires_at)
    )
