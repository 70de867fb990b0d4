"""Terminal settings: a typed dataclass stored as JSON under one key of the settings table.

Reading is forgiving: unknown keys are ignored and a missing or unreadable value falls back to its
default, so a file written by an older or newer posdesk still opens. The manager PIN is stored only as
a hash; no secret belongs here (the companion credential lives in the OS keyring).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert

from posdesk.store.models import SettingRow
from posdesk.store.repository import Repository
from posdesk.store.values import TERMINAL_KEY, TerminalSettings

__all__ = ["TERMINAL_KEY", "SettingsRepository", "TerminalSettings"]


class SettingsRepository(Repository):
    """Settings as JSON values by key."""

    def get(self, key: str, default: Any = None) -> Any:
        value = self.session.scalar(select(SettingRow.value).where(SettingRow.key == key))
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self.session.execute(
            insert(SettingRow)
            .values(key=key, value=value)
            .on_conflict_do_update(index_elements=[SettingRow.key], set_={"value": value})
        )

    def terminal(self) -> TerminalSettings:
        """This terminal's settings (the defaults when none were saved)."""
        return TerminalSettings.from_json(self.get(TERMINAL_KEY))

    def save_terminal(self, settings: TerminalSettings) -> None:
        self.set(TERMINAL_KEY, settings.to_json())
