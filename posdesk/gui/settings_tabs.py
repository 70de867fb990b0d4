"""The Settings dialog's tabs (online payments, tips, invoices, store): the form, built and shown.

What the form does (saving, pairing, testing the connection) is :class:`posdesk.gui.settings_dialog.
SettingsDialog`, which builds these tabs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from posdesk.gui.credentials import keyring_available
from posdesk.gui.dialog import PosDialog
from posdesk.gui.qt import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
)
from posdesk.gui.widgets import name, plain_label, wrapped_label
from posdesk.pos.settings_form import GATEWAY_FIELDS, GATEWAYS, NO_KEYRING, logo_data_url
from posdesk.store import TerminalSettings
from posdesk.sync.settings_reconciliation import PAGE_LANGUAGES

LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}


def level_labels(form: QFormLayout) -> None:
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


def setting_box(text: str, object_name: str, accessible: str, checked: bool) -> QCheckBox:
    """A named check box, ticked as the setting it stands for is."""
    box = name(QCheckBox(text), object_name, accessible)
    box.setChecked(checked)
    return box


class SettingsTabs(PosDialog):
    """The tabs' widgets; the dialog that builds them answers their buttons."""

    settings: TerminalSettings
    gateway: dict[str, Any]
    error: QLabel
    pair_terminal: Callable[[], None]
    test_connection: Callable[[], None]
    _keep_for_session: Callable[[], None]

    # -- tabs ----------------------------------------------------------------------------------
    def _online_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        what = "Enable POS Ticket Online Payment Link"
        self.enable_link = setting_box(
            what, "enableOnlinePaymentLinkCheckBox", what, self.settings.online_payment_link_enabled
        )
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
        self.keyring_label = wrapped_label("keyringNotice", "Keyring status")
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
        self.demo_on_lan = setting_box(
            "Let phones on this Wi-Fi open demo payment links",
            "demoLinksOnLanCheckBox",
            "Let phones on this network open demo payment links",
            self.settings.demo_links_on_lan,
        )
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
        self.test_result = wrapped_label("testConnectionResult", "Connection test result")
        test_row.addWidget(self.test_result, 1)
        layout.addLayout(test_row)
        layout.addStretch(1)
        return page

    def _tips_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        policy = self.settings.tip_policy
        self.tips_allowed = setting_box(
            "Clients may add a tip", "tipsAllowedCheckBox", "Tips allowed", policy.allowed
        )
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
            language = LANGUAGE_NAMES.get(code, code)
            box = setting_box(language, f"language_{code}CheckBox", language, code in self.settings.languages)
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
        self.business_phone = name(
            QLineEdit(self.settings.business_phone), "businessPhoneEdit", "Business phone"
        )
        form.addRow("Phone", self.business_phone)
        self.business_email = name(
            QLineEdit(self.settings.business_email), "businessEmailEdit", "Business email"
        )
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
