"""The POS's side of the companion: invoice links (made locally), the outbox relay and the event consumer.

``pair`` and ``SyncService`` are loaded on first use: they bring httpx, which the POS needs only once it
connects, after its window is shown (``posdesk.sync.invoice_links`` is imported at start-up without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posdesk.lazy_names import lazy_names

if TYPE_CHECKING:
    from posdesk.sync.client import PairingResult, pair
    from posdesk.sync.service import ConnectionState, SyncService

__all__ = ["ConnectionState", "PairingResult", "SyncService", "pair"]
_HOMES = {
    "ConnectionState": "posdesk.sync.service",
    "PairingResult": "posdesk.sync.client",
    "SyncService": "posdesk.sync.service",
    "pair": "posdesk.sync.client",
}

__getattr__ = lazy_names(__name__, _HOMES)
