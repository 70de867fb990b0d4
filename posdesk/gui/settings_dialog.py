"""Settings, behind the manager PIN: online payments, tips, invoices and the store.

The store's fields (tips, invoices, store) are pushed to the companion through the outbox when saved
(see :mod:`posdesk.sync.store_settings`); if the terminal adopts the store's settings from the companion
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posdesk.core.money import validate_currency
from posdesk.core.tips import TipPolicy
from posdesk.gui.context import PosContext
from posdesk.gui.credentials import NoKeyringAvailable, keyring_available
from posdesk.gui.manager_pin import PinDialog, with_manager_pin
from posdesk.gui.operations import QueryOp
from posdesk.gui.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    name,
    plain_label,
)
from posdesk.pos.settings_form import (
    GATEWAY_FIELDS,
    GATEWAY_KEY,
    GATEWAYS,
    NO_KEYRING,
    PUBLIC_FIELDS,
    logo_data_url,
    mask_secret,
    parse_tip_preset,
)
from posdesk.store import TerminalSettings
from posdesk.sync.store_settings import PAGE_LANGUAGES

LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}

if TYPE_CHECKING:  # the sync client is imported when pairing, not when the dialog opens
    from posdesk.sync.client import PairingResult

__all__ = ["NO_KEYRING", "SettingsDialog", "mask_secret", "open_settings", "parse_tip_preset"]
log = logging.getLogger(__name__)


def open_settings(ctx: PosContext, parent: QWidget | None = None) -> PinDialog:
    """Ask for the PIN, then show the settings (both window-modal, neither blocks the event loop)."""
    return with_manager_pin(ctx, parent, lambda: SettingsDialog(ctx, parent), purpose="the settings")


def _level_labels(form: QFormLayout) -> None:
    """Each label as tall as the first line of its field and centred on it (Qt's form layout sets a label
    on its field's top edge, a few pixels above a taller field's text)."""
    for row in range(form.rowCount()):
        label_item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        field_item = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
        label = label_item.widget() if label_item is not None else None
        if not isinstance(label, QLabel) or field_item is None:
            continue
        field, inner = field_item.widget(), field_item.layout()
        if field is None and inner is not None and inner.count():
            first = inner.itemAt(0)
            field = first.widget() if first is not None else None
        if field is not None:
            label.setMinimumHeight(field.sizeHint().height())
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


class SettingsDialog(QDialog):
    """The manager's settings for this terminal and store."""

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name(self, "settingsDialog", "Settings")
        self.setWindowTitle("Settings")
        self.ctx = ctx
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
            _level_labels(form)
        self.error = name(plain_label(), "errorMessage", "Settings message")
        self.error.setWordWrap(True)
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

    # -- tabs ----------------------------------------------------------------------------------
    def _online_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.enable_link = name(
            QCheckBox("Enable POS Ticket Online Payment Link"),
            "enableOnlinePaymentLinkCheckBox",
            "Enable POS Ticket Online Payment Link",
        )
        self.enable_link.setChecked(self.settings.online_payment_link_enabled)
        layout.addWidget(self.enable_link)
        hint = QLabel("When on, cashiers see $ Send Invoice on tickets with a client.")
        hint.setObjectName("hint")
        layout.addWidget(hint)

        form = QFormLayout()
        self.companion_url = name(
            QLineEdit(self.ctx.connection.url or self.settings.companion_url),
            "companionUrlEdit",
            "Companion URL",
        )
        self.companion_url.setPlaceholderText("https://pay.example.com")
        form.addRow("Companion URL", self.companion_url)
        pair_row = QHBoxLayout()
        self.pairing_code = name(QLineEdit(), "pairingCodeEdit", "Pairing code")
        self.pairing_code.setPlaceholderText("From the companion's admin page")
        pair_row.addWidget(self.pairing_code, 1)
        self.pair_button = name(QPushButton("Pair terminal"), "pairButton", "Pair terminal")
        self.pair_button.clicked.connect(self.pair_terminal)
        pair_row.addWidget(self.pair_button)
        form.addRow("Pairing code", pair_row)
        self.keyring_label = name(plain_label(), "keyringNotice", "Keyring status")
        self.keyring_label.setWordWrap(True)
        self.session_only_button = name(
            QPushButton("Keep for this session only"),
            "keepForSessionButton",
            "Keep credential for this session only",
        )
        self.session_only_button.hide()
        self.session_only_button.clicked.connect(self._keep_for_session)
        form.addRow("", self.keyring_label)
        form.addRow("", self.session_only_button)
        if not keyring_available():
            self.keyring_label.setText(NO_KEYRING)
            self.keyring_label.setObjectName("offlineNotice")

        self.gateway_combo = name(QComboBox(), "gatewayCombo", "Payment gateway")
        for key, caption in GATEWAYS:
            self.gateway_combo.addItem(caption, key)
        self.gateway_combo.setCurrentIndex(
            [k for k, _ in GATEWAYS].index(self.gateway.get("name", "simulator"))
        )
        form.addRow("Gateway", self.gateway_combo)
        layout.addLayout(form)

        self.gateway_pages = QStackedWidget()
        self.secret_edits: dict[str, dict[str, QLineEdit]] = {}
        masks = self.gateway.get("masks", {})
        for key, _caption in GATEWAYS:
            gateway_page = QWidget()
            gateway_form = QFormLayout(gateway_page)
            gateway_form.setContentsMargins(0, 0, 0, 0)
            self.secret_edits[key] = {}
            if not GATEWAY_FIELDS[key]:
                gateway_form.addRow(
                    QLabel("The Simulator takes test cards such as 4242 4242 4242 4242; nothing is charged.")
                )
            for field_name, caption in GATEWAY_FIELDS[key]:
                edit = name(QLineEdit(), f"{key}_{field_name}Edit", caption)
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                saved = masks.get(f"{key}.{field_name}")
                edit.setPlaceholderText(f"Saved: {saved}" if saved else "Not set")
                self.secret_edits[key][field_name] = edit
                gateway_form.addRow(caption, edit)
            self.gateway_pages.addWidget(gateway_page)
        self.gateway_combo.currentIndexChanged.connect(self.gateway_pages.setCurrentIndex)
        self.gateway_pages.setCurrentIndex(self.gateway_combo.currentIndex())
        layout.addWidget(self.gateway_pages)
        note = QLabel("Credentials are sent to the companion and never shown again.")
        note.setObjectName("hint")
        layout.addWidget(note)
        self.demo_on_lan = name(
            QCheckBox("Let phones on this Wi-Fi open demo payment links"),
            "demoLinksOnLanCheckBox",
            "Let phones on this network open demo payment links",
        )
        self.demo_on_lan.setChecked(self.settings.demo_links_on_lan)
        layout.addWidget(self.demo_on_lan)
        lan_hint = name(
            plain_label(
                "Demo mode only; off unless you turn it on. Off: demo links open on this computer only. "
                "On: the demo companion also listens on this computer's network address, so anyone on the "
                "same network can open a demo link (a phone can scan the QR code and pay with a test card). "
                "Takes effect the next time the POS starts."
            ),
            "demoLinksOnLanHint",
            "About demo links on the network",
        )
        lan_hint.setWordWrap(True)
        layout.addWidget(lan_hint)

        test_row = QHBoxLayout()
        self.test_button = name(QPushButton("Test connection"), "testConnectionButton", "Test connection")
        self.test_button.clicked.connect(self.test_connection)
        test_row.addWidget(self.test_button)
        self.test_result = name(plain_label(), "testConnectionResult", "Connection test result")
        self.test_result.setWordWrap(True)
        test_row.addWidget(self.test_result, 1)
        layout.addLayout(test_row)
        layout.addStretch(1)
        return page

    def _tips_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        policy = self.settings.tip_policy
        self.tips_allowed = name(QCheckBox("Clients may add a tip"), "tipsAllowedCheckBox", "Tips allowed")
        self.tips_allowed.setChecked(policy.allowed)
        form.addRow("", self.tips_allowed)
        self.tip_edits: list[QLineEdit] = []
        presets = list(policy.presets) + [None] * (3 - len(policy.presets))
        for index, preset in enumerate(presets[:3]):
            edit = name(
                QLineEdit(preset.label(self.ctx.locale) if preset else ""),
                f"tipPreset{index + 1}Edit",
                f"Tip preset {index + 1}",
            )
            edit.setPlaceholderText("18% or 5.00")
            self.tip_edits.append(edit)
            form.addRow(f"Preset {index + 1}", edit)
        return page

    def _invoices_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.expiry = name(QSpinBox(), "linkExpirySpin", "Link expiry in hours")
        self.expiry.setRange(1, 24 * 90)
        self.expiry.setSuffix(" hours")
        self.expiry.setValue(self.settings.link_expiry_hours)
        form.addRow("Links expire after", self.expiry)
        self.surcharge = name(
            QLineEdit(f"{(self.settings.surcharge_rate * 100).normalize():f}"),
            "surchargeEdit",
            "Card surcharge percent",
        )
        form.addRow("Card surcharge (%)", self.surcharge)
        self.currency = name(QComboBox(), "currencyCombo", "Currency")
        for code in ("USD", "CAD", "EUR", "GBP", "AUD", "JPY"):
            self.currency.addItem(code)
        if self.currency.findText(self.settings.currency) < 0:
            self.currency.addItem(self.settings.currency)
        self.currency.setCurrentText(self.settings.currency)
        form.addRow("Currency", self.currency)
        languages = QHBoxLayout()
        self.language_boxes: dict[str, QCheckBox] = {}
        for code in PAGE_LANGUAGES:
            box = name(QCheckBox(LANGUAGE_NAMES.get(code, code)), f"language_{code}CheckBox", LANGUAGE_NAMES.get(code, code))
            box.setChecked(code in self.settings.languages)
            self.language_boxes[code] = box
            languages.addWidget(box)
        languages.addStretch(1)
        form.addRow("Page languages", languages)
        return page

    def _store_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.business_name = name(QLineEdit(self.settings.business_name), "businessNameEdit", "Business name")
        form.addRow("Business name", self.business_name)
        self.business_address = name(
            QLineEdit(self.settings.business_address), "businessAddressEdit", "Business address"
        )
        form.addRow("Address", self.business_address)
        self.business_phone = name(QLineEdit(self.settings.business_phone), "businessPhoneEdit", "Business phone")
        form.addRow("Phone", self.business_phone)
        self.business_email = name(QLineEdit(self.settings.business_email), "businessEmailEdit", "Business email")
        form.addRow("Email", self.business_email)
        self.brand_color = name(QLineEdit(self.settings.brand_color), "brandColorEdit", "Brand colour")
        self.brand_color.setPlaceholderText("#1a7f5a")
        form.addRow("Brand colour", self.brand_color)
        logo_row = QHBoxLayout()
        self.logo = self.settings.logo
        self.logo_label = name(plain_label(), "logoStatusLabel", "Logo")
        logo_row.addWidget(self.logo_label, 1)
        self.logo_button = name(QPushButton("Choose logo…"), "chooseLogoButton", "Choose a logo")
        self.logo_button.clicked.connect(self._choose_logo)
        logo_row.addWidget(self.logo_button)
        self.remove_logo_button = name(QPushButton("Remove"), "removeLogoButton", "Remove the logo")
        self.remove_logo_button.clicked.connect(lambda: self._show_logo(""))
        logo_row.addWidget(self.remove_logo_button)
        form.addRow("Logo", logo_row)
        hint = QLabel("The payment page and receipts show the logo, brand colour, phone and email.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        form.addRow("", hint)
        self._show_logo(self.logo)
        return page

    def _choose_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a logo", "", "Images (*.png *.jpg *.jpeg *.webp)")
        if path:
            self.set_logo_file(path)

    def set_logo_file(self, path: str) -> None:
        """Take the image at ``path`` as the logo, or say in the dialog why not."""
        try:
            self._show_logo(logo_data_url(Path(path).read_bytes()))
        except (OSError, ValueError) as exc:
            self.error.setText(str(exc))

    def _show_logo(self, logo: str) -> None:
        self.logo = logo
        size = len(logo) * 3 // 4 // 1024
        self.logo_label.setText(f"Logo set ({size} KB)" if logo else "No logo: the page shows the initial")
        self.remove_logo_button.setEnabled(bool(logo))

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
