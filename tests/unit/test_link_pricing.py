"""Invoice links priced per tender (docs/pricing.md, "Invoice links are priced per tender too"): the
document's balance is the counter's "Balance due", and the link charges the card surcharge on the
card part only, whatever was paid before it and however."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import Invoice
from posdesk.core.money import Money
from posdesk.core.pricing import card_charge, price_ticket, toward_balance
from posdesk.core.ticket import Payment, PaymentMethod, Ticket, TicketLine

RATE = Decimal("0.035")
NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def ticket(*payments: Payment, currency: str = "USD") -> Ticket:
    """The lines of docs/pricing.md's example 5: net + tax = $113.65."""
    t = Ticket.new(5, currency)
    t.add_line(TicketLine("l1", "svc", ItemKind.APPOINTMENT, "Colour", Money(8000, currency), tax_rate=Decimal("0.0825")))
    t.add_line(TicketLine("l2", "prd", ItemKind.PRODUCT, "Serum", Money(2499, currency), tax_rate=Decimal("0.0825")))
    t.payments = list(payments)
    return t


def paid(minor: int, method: PaymentMethod, pid: str = "") -> Payment:
    return Payment(pid or f"{method.value}-{minor}", usd(minor), usd(0), method, NOW)


def invoice(t: Ticket, amount_requested: Money | None = None, rate: Decimal = RATE) -> Invoice:
    return Invoice.from_ticket(
        t, invoice_id="inv-1", version=1, locale="en_US", expires_at=NOW + timedelta(days=3),
        client=None, surcharge_rate=rate, amount_requested=amount_requested,
    )  # fmt: skip


def link_asks(document: Invoice) -> Money:
    return document.card_charge(document.amount_due_now(document.price()))


def test_before_any_payment_the_document_is_the_counters_ticket_and_the_link_adds_the_surcharge() -> None:
    document = invoice(ticket())
    counter = price_ticket(ticket(), surcharge_rate=RATE, per_tender=True)
    assert document.totals["balance_due"] == counter.balance_due.minor == 11365  # the POS's Balance due
    assert document.totals["surcharge"] == 0
    assert link_asks(document) == usd(11365 + 398)  # all by card: rule 6's $117.63, no more


def test_after_cash_the_link_charges_the_surcharge_on_the_rest_only() -> None:
    document = invoice(ticket(paid(5000, PaymentMethod.CASH)))
    assert document.totals["balance_due"] == 6365
    assert link_asks(document) == usd(6365 + 223)  # $65.88: 3.5% of $63.65, never of the cash
    online = paid(6588, PaymentMethod.ONLINE_CARD)
    settled = document.price(also_paid=[online])
    assert (settled.surcharge, settled.total, settled.paid, settled.balance_due) == (
        usd(223), usd(11588), usd(11588), usd(0)
    )  # the ticket, the page and the receipt: a total of $115.88 of which $2.23 surcharge
    assert settled == price_ticket(
        ticket(paid(5000, PaymentMethod.CASH), online), surcharge_rate=RATE, per_tender=True
    )  # the counter prices the closed ticket the same


def test_a_counter_card_tender_counts_without_the_surcharge_it_carried() -> None:
    card = paid(4000 + 140, PaymentMethod.CARD)  # $40.00 on the terminal, charged $41.40
    document = invoice(ticket(card))
    assert document.totals["balance_due"] == 11365 - 4000 and document.totals["surcharge"] == 140
    assert link_asks(document) == card_charge(usd(7365), RATE) == usd(7365 + 258)


def test_a_requested_part_is_off_the_balance_and_the_link_adds_its_surcharge() -> None:
    document = invoice(ticket(), amount_requested=usd(3000))
    assert link_asks(document) == usd(3000 + 105)
    after = document.price(also_paid=[paid(3105, PaymentMethod.ONLINE_CARD)])
    assert after.balance_due == usd(11365 - 3000)  # exactly the $30.00 asked came off


@pytest.mark.parametrize("rate", ["0", "0.01", "0.03", "0.035", "0.0999", "0.5"])
def test_whatever_the_link_charges_takes_exactly_what_it_asked_off_the_balance(rate: str) -> None:
    r = Decimal(rate)
    for minor in (*range(1, 300), 6365, 11365, 999_999):
        charged = card_charge(usd(minor), r)
        online = Payment("p", charged, usd(0), PaymentMethod.ONLINE_CARD, NOW)
        assert toward_balance(online, r) == usd(minor), (rate, minor)


def test_without_a_surcharge_nothing_changes() -> None:
    document = invoice(ticket(paid(5000, PaymentMethod.CASH)), rate=Decimal(0))
    assert link_asks(document) == usd(6365)
