"""Helpers the POS API routers share."""

from __future__ import annotations

from fastapi import HTTPException, Path
from sqlalchemy.orm import Session

from posdesk.companion.models import Store, Terminal

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
InvoiceIdPath = Path(pattern=ID_PATTERN, description="The POS's invoice id (uuid hex)")


def terminal_store(session: Session, terminal: Terminal, *, for_update: bool = False) -> Store:
    """The store of the calling terminal (401 if it vanished)."""
    store = session.get(Store, terminal.store_id, with_for_update=for_update)
    if store is None:
        raise HTTPException(status_code=401, detail="This terminal's store no longer exists")
    return store
