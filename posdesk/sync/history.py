"""A client's message history from the companion, merged into this terminal's cache.

A terminal learns messages from the event stream, but only those after its cursor; a terminal paired
after other terminals messaged a client, or one whose cache was rebuilt, would show half a conversation.
When the Communicator opens online it fetches the conversation the companion keeps
(:func:`fetch_client_history`, blocking: call it off the UI thread) and merges it
(:func:`merge_client_history`, on the writer thread): by message id, so merging twice or racing the
event stream is harmless, and states only move forward.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from posdesk.store.client_messages import apply_communicator_event
from posdesk.store.database import Database

if TYPE_CHECKING:  # httpx is imported on the first fetch, not when the POS starts
    import httpx


def fetch_client_history(
    companion_url: str, credential: str, client_id: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[dict[str, Any]]:
    """``GET /api/v1/clients/{id}/messages``. Raises :class:`~posdesk.sync.client.CompanionError`."""

    from posdesk.sync.client import CompanionClient

    async def fetch() -> list[dict[str, Any]]:
        client = CompanionClient(companion_url, credential, transport=transport)
        try:
            return await client.client_messages(client_id)
        finally:
            await client.aclose()

    return asyncio.run(fetch())  # its own short-lived loop: this runs on a plain background thread


def merge_client_history(db: Database, messages: list[dict[str, Any]]) -> set[str]:
    """Learn the messages this terminal lacks and move known ones forward, in one transaction; return the
    keys of what changed (ticket ids and :func:`~posdesk.store.client_messages.client_change_key`)."""
    changed: set[str] = set()
    with db.session() as session:
        for message in messages:
            changed |= apply_communicator_event(session, "message.status", message)
    return changed
