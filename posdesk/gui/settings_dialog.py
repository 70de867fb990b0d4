"""Settings, behind the manager PIN: online payments, tips, invoices and the store.

The store's fields (tips, invoices, store) are pushed to the companion through the outbox when saved
(see :mod:`posdesk.sync.settings_reconciliation`); if the terminal adopts the store's settings from the companion
while the dialog is open (right after pairing), the form shows them.

Gateway credentials are write-only: they go to the companion over its authenticated API and only a
mask ("sk_live_…1234") stays on the terminal. The terminal's own companion credential is kept in the
OS keyring; when there is none the dialog says so and can keep it for this run only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from posdesk.core.money import validate_currency
from posdesk.core.tips import TipPolicy
from posdesk.gui.context import PosContext
from posdesk.gui.credentials import NoKeyringAvailable
from posdesk.gui.manager_pin import PinDialog, with_manager_pin
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import QDialogButtonBox, QFormLayout, QTabWidget, QVBoxLayout, QWidget
from posdesk.gui.settings_tabs import SettingsTabs, level_labels
from posdesk.gui.widgets import message_label, name
from posdesk.pos.settings_form import (
    GATEWAY_KEY,
    NO_KEYRING,
    PUBLIC_FIELDS,
    mask_secret,
    parse_tip_preset,
)
from posdesk.store import TerminalSettings

if TYPE_CHECKING:  # the sync client is imported when pairing, not when the dialog opens
    from posdesk.sync.client import PairingResult

__all__ = ["NO_KEYRING", "SettingsDialog", "mask_secret", "open_settings", "parse_tip_preset"]
log = logging.getLogger(__name__)


def open_settings(ctx: PosContext, parent: QWidget | None = None) -> PinDialog:
    """Ask for the PIN, then show the settings (both window-modal, neither blocks the event loop)."""
    return with_manager_pin(ctx, parent, lambda: SettingsDialog(ctx, parent), purpose="the settings")


class SettingsDialog(SettingsTabs):
    """The manager's settings for this terminal and store."""

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "settingsDialog", "Settings", parent)
        self.settings: TerminalSettings = ctx.settings
        self.gateway = self._load_gateway()
        layout = QVBoxLayout(self)
        self.tabs = name(QTabWidget(), "settingsTabs", "Settings sections")
        self.tabs.addTab(self._online_tab(), "Online payments")
        self.tabs.addTab(self._tips_tab(), "Tips")
        self.tabs.addTab(self._invoices_tab(), "Invoices")
        self.tabs.addTab(self._store_tab(), "Store")
        layout.addWidget(self.tabs)
        for form in self.tabs.findChildren(QFormLayout):
            level_labels(form)
        self.error = message_label("Settings message")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = name(
            buttons.button(QDialogButtonBox.StandardButton.Save), "saveSettingsButton", "Save settings"
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, max(560, self.sizeHint().height()))  # every tab fits without squeezing
        ctx.settings_changed.connect(self._on_settings_changed)

    # -- reading the form ----------------------------------------------------------------------
    def _load_gateway(self) -> dict[str, Any]:
        value = self.ctx.backend.setting(GATEWAY_KEY, {})
        return value if isinstance(value, dict) else {}

    def form_settings(self) -> TerminalSettings:
        """The settings as entered; ValueError with a message for the first bad field."""
        currency = validate_currency(self.currency.currentText().strip().upper())
        try:
            surcharge = Decimal(self.surcharge.text().strip() or "0") / 100
        except InvalidOperation:
            raise ValueError("The surcharge is a percent such as 3") from None
        if not Decimal(0) <= surcharge < Decimal("0.1"):
            raise ValueError("The surcharge must be from 0% to under 10%")
        presets = tuple(
            parse_tip_preset(e.text(), currency, self.ctx.locale) for e in self.tip_edits if e.text().strip()
        )
        languages = tuple(code for code, box in self.language_boxes.items() if box.isChecked())
        if not languages:
            raise ValueError("Choose at least one language for the payment page")
        color = self.brand_color.text().strip().lower()
        if color and not re.fullmatch(r"#[0-9a-f]{6}", color):
            raise ValueError("The brand colour is written like #1a7f5a")
        url = self.companion_url.text().strip().rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("The companion URL starts with https://")
        return replace(
            self.settings,
            online_payment_link_enabled=self.enable_link.isChecked(),
            companion_url=url,
            tip_policy=TipPolicy(allowed=self.tips_allowed.isChecked(), presets=presets),
            link_expiry_hours=self.expiry.value(),
            surcharge_rate=surcharge,
            currency=currency,
            languages=languages,
            business_name=self.business_name.text().strip(),
            business_address=self.business_address.text().strip(),
            business_phone=self.business_phone.text().strip(),
            business_email=self.business_email.text().strip(),
            brand_color=color,
            logo=self.logo,
            demo_links_on_lan=self.demo_on_lan.isChecked(),
        )

    def _new_secrets(self) -> tuple[str, dict[str, str]]:
        gateway = self.gateway_combo.currentData()
        entered = {f: e.text().strip() for f, e in self.secret_edits[gateway].items() if e.text().strip()}
        return gateway, entered

    # -- actions -------------------------------------------------------------------------------
    def save(self) -> None:
        try:
            settings = self.form_settings()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        gateway, secrets = self._new_secrets()
        masks = dict(self.gateway.get("masks", {}))
        masks.update({f"{gateway}.{field}": mask_secret(value) for field, value in secrets.items()})
        gateway_row = {"name": gateway, "masks": masks}
        self.save_button.setEnabled(False)
        url = self.ctx.connection.url

        backend = self.ctx.backend

        def persist() -> TerminalSettings:
            if secrets or gateway != self.gateway.get("name", "simulator"):
                self._send_gateway(url, gateway, secrets)
            # Saved with the push of the store's fields to the companion, in one transaction.
            backend.save_settings_and_push(settings)
            backend.set_setting(GATEWAY_KEY, gateway_row)
            return backend.settings()

        self.ctx.worker.run("save settings", persist, on_done=self._on_saved, on_error=self._on_save_failed)

    def _send_gateway(self, url: str, gateway: str, secrets: dict[str, str]) -> None:
        """Write-only: ``PUT /api/v1/gateway`` on the companion; nothing secret is kept on the terminal."""
        if not url:
            raise ValueError("Connect to a companion before choosing a gateway")
        from posdesk.sync.client import BlockingCompanion, CompanionRejected

        public = {k: v for k, v in secrets.items() if k in PUBLIC_FIELDS}
        hidden = {k: v for k, v in secrets.items() if k not in PUBLIC_FIELDS}
        try:
            with BlockingCompanion(url, self.ctx.vault.load(url) or "") as companion:
                companion.put_gateway(gateway, public, hidden)
        except CompanionRejected as exc:
            raise ValueError(f"The companion refused the gateway settings ({exc.status})") from None

    def _on_saved(self, settings: TerminalSettings) -> None:
        for edits in self.secret_edits.values():
            for edit in edits.values():
                edit.clear()
        self.ctx.settings = settings
        self.ctx.settings_changed.emit()
        self.ctx.wake_sync()  # push the store settings now, not at the relay's next tick
        self.accept()

    def _on_settings_changed(self) -> None:
        """The terminal adopted the store's settings (e.g. just after pairing): show them in the form."""
        if not self.isVisible():
            return
        adopted = self.settings = self.ctx.settings
        policy = adopted.tip_policy
        self.tips_allowed.setChecked(policy.allowed)
        presets = list(policy.presets) + [None] * (3 - len(policy.presets))
        for edit, preset in zip(self.tip_edits, presets[:3], strict=True):
            edit.setText(preset.label(self.ctx.locale) if preset else "")
        self.expiry.setValue(adopted.link_expiry_hours)
        self.surcharge.setText(f"{(adopted.surcharge_rate * 100).normalize():f}")
        if self.currency.findText(adopted.currency) < 0:
            self.currency.addItem(adopted.currency)
        self.currency.setCurrentText(adopted.currency)
        for code, box in self.language_boxes.items():
            box.setChecked(code in adopted.languages)
        self.business_name.setText(adopted.business_name)
        self.business_address.setText(adopted.business_address)
        self.business_phone.setText(adopted.business_phone)
        self.business_email.setText(adopted.business_email)
        self.brand_color.setText(adopted.brand_color)
        self._show_logo(adopted.logo)

    def _on_save_failed(self, error: Exception) -> None:
        self.save_button.setEnabled(True)
        self.error.setText(f"Not saved: {error}")

    def pair_terminal(self) -> None:
        url = self.companion_url.text().strip().rstrip("/")
        code = self.pairing_code.text().strip()
        if not url or not code:
            self.keyring_label.setText("Enter the companion URL and the pairing code")
            return
        self.pair_button.setEnabled(False)
        self.keyring_label.setText("Pairing…")

        def pair() -> PairingResult:
            from posdesk.sync.client import pair as pair_with

            return pair_with(url, code, self.settings.terminal_name or "POS terminal")

        QueryOp("pair", pair).success(self._on_paired).failure(self._on_pair_failed).run_in_background(
            self.ctx
        )

    def _on_paired(self, result: PairingResult) -> None:
        self.pair_button.setEnabled(True)
        self._paired = result
        self.ctx.connection.url = self.companion_url.text().strip().rstrip("/")
        self.ctx.connection.store_id = result.store_id
        self.ctx.connection.terminal_id = result.terminal_id
        try:
            self.ctx.vault.save(self.ctx.connection.url, result.credential)
        except NoKeyringAvailable:
            self.keyring_label.setText(NO_KEYRING)
            self.session_only_button.show()
            return
        self.keyring_label.setText("Paired. The terminal's credential is in the system keyring.")
        self.ctx.reconnect()  # start syncing now, not at the next start

    def _on_pair_failed(self, error: Exception) -> None:
        self.pair_button.setEnabled(True)
        self.keyring_label.setText(f"Pairing failed: {error}")

    def _keep_for_session(self) -> None:
        result = getattr(self, "_paired", None)
        if result is not None:
            self.ctx.vault.keep_for_session(self.ctx.connection.url, result.credential)
        self.session_only_button.hide()
        self.keyring_label.setText("Paired for this session only: pair again after restarting posdesk.")
        self.ctx.reconnect()

    def test_connection(self) -> None:
        url = self.companion_url.text().strip().rstrip("/")
        if not url:
            self.test_result.setText("Enter the companion URL first")
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Testing…")

        credential = self.ctx.vault.load(url) or ""

        def check() -> str:
            from posdesk.sync.client import BlockingCompanion, CompanionRejected, CompanionUnavailable

            with BlockingCompanion(url, credential) as companion:
                try:
                    companion.healthy()
                except CompanionRejected as exc:
                    return f"✗ The companion answered {exc.status}"
                except CompanionUnavailable as exc:
                    return f"✗ Cannot reach the companion: {exc}"
                if not credential:
                    return "✓ Companion reachable. Pair this terminal to check the gateway."
                try:
                    body = companion.test_gateway()
                except CompanionRejected as exc:
                    return f"✓ Companion reachable · ✗ gateway check refused ({exc.status})"
                except CompanionUnavailable as exc:
                    return f"✗ Cannot reach the companion: {exc}"
            mark = "✓" if body.get("ok") else "✗"
            return f"✓ Companion reachable · {mark} gateway: {body.get('message', '')}"

        QueryOp("test connection", check).success(self._on_tested).failure(self._on_tested).run_in_background(
            self.ctx
        )

    def _on_tested(self, outcome: object) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(str(outcome))
