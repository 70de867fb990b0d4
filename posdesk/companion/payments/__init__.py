"""Payments: charging invoices and keeping one ledger of what gateways report.

The package's parts (see docs/architecture.md for the state diagram of a payment):

- :mod:`.errors`, :mod:`.values` -- what the flows refuse and pass around;
- :mod:`.directory` -- each store's gateway driver (the Simulator's webhook sink is handed in by the
  app factory);
- :mod:`.balance` -- what an invoice asks for now;
- :mod:`.attempts` -- the plan of a charge and its one pending payment row;
- :mod:`.ledger` -- **the only code that changes a payment's state** (lock, match, forward only, events);
- :mod:`.charging` -- charges made on the server and the 3-D Secure step;
- :mod:`.page_confirm` -- attempts confirmed in the browser (:class:`~posdesk.gateways.base.ConfirmsOnPage`);
- :mod:`.saved_cards`, :mod:`.tips`, :mod:`.refunds`, :mod:`.reconcile`;
- :mod:`.gateway_events` -- a verified event's variant applied to the ledger;
- :mod:`.invoice_page` -- promo codes and the first visit.

The companion never imports a gateway's own package nor asks a gateway's name: what a driver can do
is a capability declared in :mod:`posdesk.gateways.base`.
"""

from __future__ import annotations

from posdesk.companion.payments.attempts import payment_for_token
from posdesk.companion.payments.balance import Balance, balance_of, balance_with, is_expired
from posdesk.companion.payments.charging import confirm_action, fail_payment, pay_invoice
from posdesk.companion.payments.directory import GatewayDirectory, WebhookSink, gateway_directory
from posdesk.companion.payments.errors import (
    AlreadyInProgress,
    MismatchError,
    PaymentRefused,
    RefundRefused,
    VersionChanged,
)
from posdesk.companion.payments.invoice_page import apply_promo_code, mark_opened
from posdesk.companion.payments.ledger import (
    apply_gateway_payment,
    lock_payment,
    payment_from_gateway,
    payment_wire,
    record_refund,
)
from posdesk.companion.payments.refunds import refund_payment
from posdesk.companion.payments.tips import add_tip, tip_added_to, tip_window_open
from posdesk.companion.payments.values import (
    COUNTED,
    FAILED,
    IN_FLIGHT,
    TIP_WINDOW,
    PayOutcome,
    PayRequest,
    PreparedPayment,
    RefundOutcome,
)

__all__ = [
    "COUNTED",
    "FAILED",
    "IN_FLIGHT",
    "TIP_WINDOW",
    "AlreadyInProgress",
    "Balance",
    "GatewayDirectory",
    "MismatchError",
    "PayOutcome",
    "PayRequest",
    "PaymentRefused",
    "PreparedPayment",
    "RefundOutcome",
    "RefundRefused",
    "VersionChanged",
    "WebhookSink",
    "add_tip",
    "apply_gateway_payment",
    "apply_promo_code",
    "balance_of",
    "balance_with",
    "confirm_action",
    "fail_payment",
    "gateway_directory",
    "is_expired",
    "lock_payment",
    "mark_opened",
    "pay_invoice",
    "payment_for_token",
    "payment_from_gateway",
    "payment_wire",
    "record_refund",
    "refund_payment",
    "tip_added_to",
    "tip_window_open",
]
