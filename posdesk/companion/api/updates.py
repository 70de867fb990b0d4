"""The signed update policy for terminals, and the store's terminals with the version each runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from posdesk.companion.deps import ConfigDep, DbDep, TerminalDep
from posdesk.companion.models import Terminal
from posdesk.companion.updates import signed_policy

router = APIRouter(tags=["updates"])


@router.get("/updates")
def get_update_policy(terminal: TerminalDep, config: ConfigDep) -> dict[str, str]:
    """The signed minimum and recommended POS versions, with the installer's URL and SHA-256."""
    return signed_policy(config.update_policy, config.secret_key, terminal.store_id)


@router.get("/terminals")
def list_terminals(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """The store's paired terminals with the POS version each last ran (for IT)."""
    with db.read() as session:
        rows = session.scalars(
            select(Terminal).where(Terminal.store_id == terminal.store_id).order_by(Terminal.created_at)
        ).all()
        return {
            "terminals": [
                {
                    "terminal_id": row.id,
                    "name": row.name,
                    "app_version": row.app_version,
                    "version_seen_at": row.version_seen_at.isoformat() if row.version_seen_at else None,
                    "revoked": row.revoked_at is not None,
                }
                for row in rows
            ]
        }
