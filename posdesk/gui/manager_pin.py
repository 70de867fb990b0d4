"""The manager PIN gate: settings, refunds and the day summary open only behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog
from posdesk.gui.pin import PinError, check_new_pin, hash_pin, verify_pin
from posdesk.gui.qt import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget
from posdesk.gui.widgets import name, plain_label


class PinDialog(PosDialog):
    """Asks for the manager PIN; on first use, sets it (twice, to be sure)."""

    def __init__(
        self, ctx: PosContext, parent: QWidget | None = None, *, purpose: str = "the settings"
    ) -> None:
        first_use = not ctx.settings.manager_pin_hash
        title = "Set the manager PIN" if first_use else "Manager PIN"
        super().__init__(ctx, "managerPinDialog", "Manager PIN", parent, title=title)
        self.first_use = first_use
        # Holds the dialog the PIN opened, so an unparented one outlives the callback that made it.
        self.opened: QDialog | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Choose a manager PIN of at least 4 digits. It guards {purpose}."
            if self.first_use
            else f"Only a manager can open {purpose}. Enter the manager PIN."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.pin_edit = name(QLineEdit(), "pinEdit", "Manager PIN")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("PIN", self.pin_edit)
        self.confirm_edit = name(QLineEdit(self), "pinConfirmEdit", "Repeat manager PIN")
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        if self.first_use:
            form.addRow("Repeat PIN", self.confirm_edit)
        else:
            self.confirm_edit.hide()
        layout.addLayout(form)
        self.error = name(plain_label(), "errorMessage", "PIN message")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        name(buttons.button(QDialogButtonBox.StandardButton.Ok), "pinOkButton", "Confirm PIN")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def submit(self) -> None:
        pin = self.pin_edit.text()
        if self.first_use:
            try:
                check_new_pin(pin, self.confirm_edit.text())
            except PinError as exc:
                self.error.setText(str(exc))
                return
            settings = replace(self.ctx.settings, manager_pin_hash=hash_pin(pin))
            self.ctx.worker.call(lambda: self.ctx.backend.save_settings(settings))
            self.ctx.settings = settings
            self.accept()
        elif verify_pin(pin, self.ctx.settings.manager_pin_hash):
            self.accept()
        else:
            self.pin_edit.clear()
            self.error.setText("Wrong PIN")


def with_manager_pin(
    ctx: PosContext, parent: QWidget | None, open_dialog: Callable[[], QDialog], *, purpose: str
) -> PinDialog:
    """Ask for the manager PIN (window-modal, not blocking the event loop), then open the dialog."""
    gate = PinDialog(ctx, parent, purpose=purpose)

    def granted() -> None:
        gate.opened = open_dialog()
        gate.opened.open()

    gate.accepted.connect(granted)
    gate.open()
    return gate
