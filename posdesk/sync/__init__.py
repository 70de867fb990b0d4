"""The POS's side of the companion: sending invoices, the outbox relay and the event consumer."""

from posdesk.sync.client import PairingResult, pair
from posdesk.sync.service import ConnectionState, SyncService

__all__ = ["ConnectionState", "PairingResult", "SyncService", "pair"]
