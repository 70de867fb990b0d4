"""The tender dialog's gift card check: the code typed in ``giftCardCodeEdit`` is checked against the
balance of gift cards sold through the POS on any terminal (the companion's records when it can be
asked, this terminal's otherwise) and ``giftCardBalanceLabel`` says what is left and from where."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posdesk.core.gift_cards import normalize_code
from posdesk.core.money import Money
from posdesk.gui.context import PosContext
from posdesk.gui.operations import CollectionOp, QueryOp
from posdesk.gui.qt import QLabel, QLineEdit, QObject, Signal
from posdesk.pos.gift_cards import COMPANION, TERMINAL, GiftCardCheck, check_at_companion


class GiftCardChecker(QObject):
    """Checks the code when the cashier finishes typing it (Enter or leaving the field).

    Signals:
        checked(object): the :class:`GiftCardCheck` shown.
    """

    checked = Signal(object)

    def __init__(self, ctx: PosContext, edit: QLineEdit, label: QLabel, amount: Callable[[], Money | None]) -> None:
        super().__init__(edit)
        self.ctx, self.edit, self.label, self.amount = ctx, edit, label, amount
        self.last: GiftCardCheck | None = None
        edit.editingFinished.connect(self.check)

    def check(self) -> None:
        code = normalize_code(self.edit.text())
        if not code:
            self._show(GiftCardCheck("", None, TERMINAL))
            return
        if self.last is not None and self.last.code == code:
            self._show(self.last)  # the amount may have changed
            return
        connection = self.ctx.connection
        self.label.setText("Checking the gift card…")
        if connection.configured and connection.online:
            url, vault = connection.url, self.ctx.vault
            QueryOp("check gift card", lambda: check_at_companion(url, vault.load(url) or "", code)).success(
                lambda card: self._from_companion(code, card)
            ).failure(lambda _error: self._from_terminal(code)).run_in_background(self.ctx)
        else:
            self._from_terminal(code)

    def _from_companion(self, code: str, card: dict[str, Any] | None) -> None:
        if card is None:  # not at the companion (yet): this terminal may have sold it a moment ago
            self._from_terminal(code, unknown_there=True)
            return
        backend = self.ctx.backend
        balance = Money(int(card["balance"]), str(card["currency"]))
        # Noted here too, so the payment is checked against the same balance when recorded.
        CollectionOp("note gift card", lambda: backend.adopt_gift_card(card)).run_in_background(self.ctx)
        self._show(GiftCardCheck(code, balance, COMPANION))

    def _from_terminal(self, code: str, *, unknown_there: bool = False) -> None:
        backend = self.ctx.backend

        def shown(balance: Money | None) -> None:
            if balance is None and unknown_there:
                self._show(GiftCardCheck(code, None, COMPANION))
            else:
                self._show(GiftCardCheck(code, balance, TERMINAL))

        QueryOp("gift card here", lambda: backend.gift_card_balance(code)).success(shown).run_in_background(self.ctx)

    def _show(self, check: GiftCardCheck) -> None:
        self.last = check if check.code else None
        self.label.setText(check.words(self.amount(), self.ctx.locale))
        self.checked.emit(check)
