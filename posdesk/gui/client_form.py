"""Create a client: validated fields and consent for SMS and email."""

from __future__ import annotations

from posdesk.core.client import Client, ClientValidationError
from posdesk.core.ticket import new_id
from posdesk.gui.context import PosContext
from posdesk.gui.dialog import PosDialog
from posdesk.gui.qt import QCheckBox, QFormLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget, Signal
from posdesk.gui.widgets import cancel_or, message_label, name


class ClientFormDialog(PosDialog):
    """A small form for a new client; saving runs on the worker.

    Signals:
        client_created(object): the saved :class:`~posdesk.core.client.Client`.
    """

    client_created = Signal(object)

    def __init__(self, ctx: PosContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "clientFormDialog", "New client", parent)
        self.first_name = name(QLineEdit(), "firstNameEdit", "First name")
        self.last_name = name(QLineEdit(), "lastNameEdit", "Last name")
        self.phone = name(QLineEdit(), "phoneEdit", "Phone")
        self.phone.setPlaceholderText("+1 555 010 2000")
        self.email = name(QLineEdit(), "emailEdit", "Email")
        self.email.setPlaceholderText("name@example.com")
        self.sms_consent = name(QCheckBox("Agrees to receive SMS"), "smsConsentCheckBox", "SMS consent")
        self.email_consent = name(
            QCheckBox("Agrees to receive email"), "emailConsentCheckBox", "Email consent"
        )
        self.error = message_label("Form message")
        form = QFormLayout()
        form.addRow("First name *", self.first_name)
        form.addRow("Last name", self.last_name)
        form.addRow("Phone", self.phone)
        form.addRow("Email", self.email)
        form.addRow("", self.sms_consent)
        form.addRow("", self.email_consent)
        self.save_button = name(QPushButton("Save"), "saveClientButton", "Save client")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(cancel_or(self, self.save_button, self.submit))
        self._fields = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "email": self.email,
            "sms_consent": self.sms_consent,
            "email_consent": self.email_consent,
        }

    def client(self) -> Client:
        return Client(
            id=new_id(),
            first_name=self.first_name.text().strip(),
            last_name=self.last_name.text().strip(),
            phone=self.phone.text().strip(),
            email=self.email.text().strip(),
            sms_consent=self.sms_consent.isChecked(),
            email_consent=self.email_consent.isChecked(),
        )

    def submit(self) -> None:
        for widget in self._fields.values():
            widget.setProperty("invalid", False)
            widget.style().polish(widget)
        try:
            client = self.client().validate()
        except ClientValidationError as exc:
            self.error.setText(str(exc))
            invalid = self._fields.get(exc.field)
            if invalid is not None:
                invalid.setProperty("invalid", True)
                invalid.style().polish(invalid)
                invalid.setFocus()
            return
        self.error.setText("")
        self.save_button.setEnabled(False)
        self.ctx.worker.run(
            "create client",
            lambda: self.ctx.backend.create_client(client),
            on_done=self._on_created,
            on_error=self._on_failed,
        )

    def _on_created(self, client: Client) -> None:
        self.client_created.emit(client)
        self.accept()

    def _on_failed(self, error: Exception) -> None:
        self.save_button.setEnabled(True)
        self.error.setText(f"Could not save the client: {error}")
