"""The POS's side of the companion: invoice links (made locally), the outbox relay and the event consumer.

``pair`` and ``SyncService`` are loaded on first use: they bring httpx, which the POS needs only once it
connects, after its window is shown (``posdesk.sync.invoice_links`` is imported at start-up without it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
