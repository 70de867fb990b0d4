"""What every window of the POS shares: the backend, the worker, settings and the connection state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from posdesk.gui.backend import PosBackend
from posdesk.gui.credentials import CredentialVault
from posdesk.gui.qt import QObject, Signal
from posdesk.gui.worker import Worker


@dataclass
class Connection:
    """The companion this terminal talks to ("" when none: the POS works on its own)."""

    url: str = ""
    store_id: str = ""
    terminal_id: str = ""
    state: str = "offline"  # posdesk.sync.ConnectionState values
    demo: bool = False
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @property
    def online(self) -> bool:
        return self.state == "online"


class PosContext(QObject):
    """Shared state of one running POS.

    Signals:
        settings_changed(): the terminal settings were saved (the feature switch may have flipped).
        tickets_changed(object): a set of ticket ids changed in the database (from sync or a save).
        connection_changed(str): online / offline / catching_up.
        operation_did_execute(object, object): a :class:`~posdesk.gui.operations.CollectionOp` finished:
            its :class:`~posdesk.gui.operations.OpChanges` and the object that started it (or None).
    """

    settings_changed = Signal()
    tickets_changed = Signal(object)
    connection_changed = Signal(str)
    operation_did_execute = Signal(object, object)

    def __init__(
        self,
        backend: PosBackend,
        worker: Worker,
        *,
        connection: Connection | None = None,
        vault: CredentialVault | None = None,
        timezone: ZoneInfo | None = None,
        locale: str = "en_US",
        network: Worker | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend = backend
        self.worker = worker  # the one writer thread (CollectionOp)
        # Reads and companion calls (QueryOp), a few at once, so a slow companion never delays a save.
        self.network = network or Worker(self, thread_name="posdesk-network", threads=2)
        self.connection = connection or Connection()
        self.vault = vault or CredentialVault()
        self.timezone = timezone or ZoneInfo("UTC")
        self.locale = locale
        self.settings = backend.settings()
        self.wake_sync: Callable[[], None] = lambda: None  # replaced by the app once a SyncService runs
        # Replaced by the app: (re)start syncing with ``connection.url`` after this terminal is paired.
        self.reconnect: Callable[[], None] = lambda: None

    def now(self) -> datetime:
        return datetime.now(self.timezone)

    def today(self) -> date:
        return self.now().date()

    def reload_settings(self) -> None:
        self.settings = self.backend.settings()
        self.settings_changed.emit()

    def set_connection_state(self, state: str) -> None:
        if state != self.connection.state:
            self.connection.state = state
            self.connection_changed.emit(state)
