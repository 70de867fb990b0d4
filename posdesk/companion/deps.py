"""FastAPI dependencies shared by the companion's routers (the POS API, the payment page, webhooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from posdesk.companion.auth import terminal_for_credential
from posdesk.companion.config import CompanionConfig
from posdesk.companion.database import Database
from posdesk.companion.events import EventBus
from posdesk.companion.models import Terminal
from posdesk.companion.updates import record_version


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_config(request: Request) -> CompanionConfig:
    config: CompanionConfig = request.app.state.config
    return config


def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


def bearer_credential(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_terminal(request: Request, db: Annotated[Database, Depends(get_db)]) -> Terminal:
    """The paired terminal presenting ``Authorization: Bearer <credential>``; 401 otherwise.

    The row is detached from its session: read its fields, do not lazy-load through it.
    """
    credential = bearer_credential(request)
    terminal = None
    if credential is not None:
        with db.read() as session:
            terminal = terminal_for_credential(session, credential)
            if terminal is not None:
                session.expunge(terminal)
    if terminal is not None:
        record_version(db, terminal, request.headers.get("user-agent"))
    if terminal is None:
        raise HTTPException(
            status_code=401,
            detail="A paired terminal's credential is required (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return terminal


DbDep = Annotated[Database, Depends(get_db)]
ConfigDep = Annotated[CompanionConfig, Depends(get_config)]
BusDep = Annotated[EventBus, Depends(get_bus)]
TerminalDep = Annotated[Terminal, Depends(current_terminal)]
