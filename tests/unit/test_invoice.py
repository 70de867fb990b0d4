"""Invoices: priced snapshots of a ticket, their wire format, and what the companion refuses."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import (
    MAX_LINES,
    TOTAL_FIELDS,
    Invoice,
    InvoiceClient,
    InvoiceFormatError,
    check_requested_amount,
    totals_difference,
    totals_of,
)
from posdesk.core.money import CurrencyMismatchError, Money
from posdesk.core.pricing import Promotion, price_lines
from posdesk.core.ticket import Coverage, LineDiscount, Payment, PaymentMethod, Ticket, TicketLine

EXPIRES = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
PAID_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PROMOTIONS = {"P10": Promotion("P10", "Ten percent", percent=Decimal("0.10"))}
ADA = InvoiceClient("c1", "Ada Lovelace", phone="+15550100", email="ada@example.com", sms_consent=True)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def sample_ticket() -> Ticket:
    ticket = Ticket.new(42, "USD", ticket_id="t-42")
    ticket.set_client("c1", "Ada Lovelace")
    ticket.add_line(
        TicketLine(
            "cut", "svc-cut", ItemKind.APPOINTMENT, "Haircut", usd(4500), tax_rate=Decimal("0.0825"),
            discount=LineDiscount(percent=Decimal("0.10")), staff="Sam",
            start=datetime(2025, 3, 1, 15, 0, tzinfo=UTC), appointment_id="appt-1",
        )
    )
    ticket.add_line(
        TicketLine("gel", "sku-gel", ItemKind.PRODUCT, "Gel", usd(1899), quantity=2, tax_rate=Decimal("0.0825"),
                   discount=LineDiscount(amount=usd(200)), note="gift wrap")
    )
    ticket.add_line(
        TicketLine("yoga", "cls-yoga", ItemKind.CLASS, "Yoga", usd(2000), prepaid=Coverage.MEMBERSHIP,
                   prepaid_holding_id="m-1")
    )
    ticket.add_line(TicketLine("gc", "gift", ItemKind.GIFT_CARD, "Gift card", usd(5000)))
    ticket.add_promo_code("p10")
    ticket.payments.append(
        Payment("pay-1", usd(2000), usd(300), PaymentMethod.CASH, PAID_AT, reference="r1", refunded=usd(100))
    )
    return ticket


def sample_invoice(**overrides: Any) -> Invoice:
    fields: dict[str, Any] = {
        "invoice_id": "inv-1", "version": 1, "locale": "en_US", "expires_at": EXPIRES, "client": ADA,
        "promotions": PROMOTIONS, "surcharge_rate": Decimal("0.03"),
    }
    ticket = overrides.pop("ticket", None) or sample_ticket()
    return Invoice.from_ticket(ticket, **{**fields, **overrides})


def wire() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(sample_invoice().to_wire()))
    return document


# -- from_ticket and the wire round trip ----------------------------------------------------------------
def test_from_ticket_snapshots_the_ticket_and_its_totals() -> None:
    invoice = sample_invoice()
    assert (invoice.ticket_id, invoice.ticket_number, invoice.currency) == ("t-42", 42, "USD")
    assert [line.id for line in invoice.lines] == ["cut", "gel", "yoga", "gc"]
    assert invoice.promo_codes == ("P10",)
    assert invoice.totals == totals_of(invoice.price(PROMOTIONS))
    assert set(invoice.totals) == set(TOTAL_FIELDS)
    # 45.00 - 4.50 = 40.50 and 37.98 - 2.00 = 35.98, then 10% off both -> 36.45 + 32.38; the gift card
    # takes no promotion; the yoga class is in the membership.
    assert invoice.totals["promos"] == 405 + 360
    assert invoice.totals["prepaid"] == 2000
    assert invoice.totals["balance_due"] == invoice.totals["total"] - 2000


def test_the_snapshot_does_not_follow_later_edits_of_the_ticket() -> None:
    ticket = sample_ticket()
    invoice = sample_invoice(ticket=ticket)
    ticket.remove_line("gel")
    assert [line.id for line in invoice.lines] == ["cut", "gel", "yoga", "gc"]


def test_wire_round_trip_through_json() -> None:
    invoice = sample_invoice(amount_requested=usd(1000))
    document = json.loads(json.dumps(invoice.to_wire()))
    assert Invoice.from_wire(document) == invoice
    assert Invoice.from_wire(document).fingerprint() == invoice.fingerprint()


def test_walk_in_invoice_round_trips_with_no_client() -> None:
    invoice = sample_invoice(client=None)
    assert invoice.to_wire()["client"] is None
    assert Invoice.from_wire(invoice.to_wire()) == invoice


short_text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]),
)


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    currency = draw(st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
    ticket = Ticket.new(draw(st.integers(0, 10**6)), currency, ticket_id=draw(short_text))
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(list(ItemKind)))
        ticket.add_line(
            TicketLine(
                id=f"line-{i}",
                item_id=draw(st.text(max_size=10)),
                kind=kind,
                name=draw(short_text),
                unit_price=Money(draw(st.integers(0, 10**8)), currency),
                quantity=draw(st.integers(1, 999)),
                tax_rate=Decimal(0)
                if kind is ItemKind.GIFT_CARD
                else draw(st.decimals(min_value=0, max_value="0.3", places=5)),
                discount=draw(
                    st.one_of(
                        st.none(),
                        st.builds(LineDiscount, percent=st.decimals(min_value="0.01", max_value=1, places=3)),
                        st.builds(LineDiscount, amount=st.builds(Money, st.integers(1, 10**6), st.just(currency))),
                    )
                ),
                prepaid=draw(st.sampled_from([None, *Coverage])) if kind.is_service else None,
                prepaid_holding_id=draw(st.text(max_size=10)),
                staff=draw(st.text(max_size=20)),
                start=draw(st.one_of(st.none(), aware_times)),
                appointment_id=draw(st.text(max_size=10)),
                note=draw(st.text(max_size=40)),
            )
        )
    for code in draw(st.lists(st.sampled_from(["P10", "NOPE", "SPRING"]), max_size=3, unique=True)):
        ticket.add_promo_code(code)
    for i in range(draw(st.integers(0, 3))):
        ticket.payments.append(
            Payment(
                id=f"pay-{i}",
                amount=Money(draw(st.integers(0, 10**7)), currency),
                tip=Money(draw(st.integers(0, 10**5)), currency),
                method=draw(st.sampled_from(list(PaymentMethod))),
                received_at=draw(aware_times),
                reference=draw(st.text(max_size=20)),
                card_brand=draw(st.sampled_from(["", "visa", "amex"])),
                card_last4=draw(st.sampled_from(["", "4242"])),
                refunded=draw(st.one_of(st.none(), st.builds(Money, st.integers(0, 100), st.just(currency)))),
            )
        )
    return ticket


@settings(deadline=None, max_examples=150)
@given(
    ticket=tickets(),
    client=st.one_of(st.none(), st.builds(InvoiceClient, short_text, short_text, st.text(max_size=15))),
    version=st.integers(1, 10**6),
    locale=st.sampled_from(["en_US", "fr_FR", "de_DE", "ja_JP"]),
    expires=aware_times,
    surcharge=st.decimals(min_value=0, max_value="0.1", places=4),
)
def test_any_invoice_survives_the_wire(
    ticket: Ticket, client: InvoiceClient | None, version: int, locale: str, expires: datetime, surcharge: Decimal
) -> None:
    promotions = {"P10": Promotion("P10", "10%", percent=Decimal("0.10"))}
    invoice = Invoice.from_ticket(
        ticket, invoice_id="inv", version=version, locale=locale, expires_at=expires, client=client,
        promotions=promotions, surcharge_rate=surcharge,
    )
    back = Invoice.from_wire(json.loads(json.dumps(invoice.to_wire())))
    assert back == invoice
    assert back.fingerprint() == invoice.fingerprint()
    # The companion re-prices what it received and gets what the POS claimed.
    assert totals_difference(back.totals, back.price(promotions)) == {}


# -- fingerprint -------------------------------------------------------------------------------------------
PRICED_CHANGES = {
    "a line's price": lambda t: t.update_line("gel", unit_price=usd(1999)),
    "a quantity": lambda t: t.update_line("gel", quantity=3),
    "a tax rate": lambda t: t.update_line("gel", tax_rate=Decimal("0.09")),
    "a line discount": lambda t: t.update_line("cut", discount=LineDiscount(percent=Decimal("0.2"))),
    "removing a discount": lambda t: t.update_line("cut", discount=None),
    "coverage": lambda t: t.update_line("yoga", prepaid=None),
    "a new line": lambda t: t.add_line(TicketLine("x", "i", ItemKind.PRODUCT, "Comb", usd(100))),
    "a removed line": lambda t: t.remove_line("gc"),
    "a promo code": lambda t: t.add_promo_code("SPRING"),
    "a payment": lambda t: t.payments.append(Payment("pay-2", usd(1), usd(0), PaymentMethod.CASH, PAID_AT)),
}


@pytest.mark.parametrize("change", PRICED_CHANGES.values(), ids=list(PRICED_CHANGES))
def test_fingerprint_changes_with_any_priced_change(change: Any) -> None:
    ticket = sample_ticket()
    before = sample_invoice(ticket=copy.deepcopy(ticket)).fingerprint()
    change(ticket)
    assert sample_invoice(ticket=ticket).fingerprint() != before


@pytest.mark.parametrize(
    "overrides",
    [
        {"surcharge_rate": Decimal("0.035")},
        {"amount_requested": usd(500)},
        {"client": InvoiceClient("c2", "Grace Hopper")},
        {"client": None},
    ],
    ids=["surcharge", "requested amount", "another client", "walk-in"],
)
def test_fingerprint_changes_with_invoice_terms(overrides: dict[str, Any]) -> None:
    assert sample_invoice(**overrides).fingerprint() != sample_invoice().fingerprint()


@pytest.mark.parametrize(
    "overrides",
    [
        {"locale": "fr_FR"},
        {"expires_at": EXPIRES + timedelta(days=30)},
        {"version": 7},
        {"invoice_id": "inv-2"},
        {"client": InvoiceClient("c1", "Ada L.", email="new@example.com")},
    ],
    ids=["locale", "expiry", "version", "invoice id", "client contact details"],
)
def test_fingerprint_ignores_what_does_not_change_the_amount(overrides: dict[str, Any]) -> None:
    assert sample_invoice(**overrides).fingerprint() == sample_invoice().fingerprint()


def test_fingerprint_is_a_sha256_hex_digest() -> None:
    fingerprint = sample_invoice().fingerprint()
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0


# -- from_wire refuses bad input, naming the field -----------------------------------------------------------
def _set(path: str, value: Any) -> Any:
    """A mutation of the sample document: set ``path`` (dots and [i]) to ``value``, or delete it."""

    def mutate(doc: dict[str, Any]) -> None:
        parts = path.replace("[", ".").replace("]", "").split(".")
        target: Any = doc
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

BAD_DOCUMENTS = [
    ("ticket_number", "7", "invoice.ticket_number: must be an integer"),
    ("ticket_number", True, "invoice.ticket_number: must be an integer"),
    ("ticket_number", -1, "invoice.ticket_number: must be at least 0"),
    ("version", 0, "invoice.version: must be at least 1"),
    ("version", 1.0, "invoice.version: must be an integer"),
    ("invoice_id", _DELETE, "invoice.invoice_id: is required"),
    ("invoice_id", "  ", "invoice.invoice_id: must not be empty"),
    ("ticket_id", 5, "invoice.ticket_id: must be a string"),
    ("currency", "XYZ", "invoice.currency: unknown currency"),
    ("currency", "usd", "invoice.currency: unknown currency"),
    ("currency", _DELETE, "invoice.currency: is required"),
    ("expires_at", "2025-03-08T12:00:00", "invoice.expires_at: needs a time zone"),
    ("expires_at", "next tuesday", "invoice.expires_at: is not an ISO 8601 timestamp"),
    ("expires_at", _DELETE, "invoice.expires_at: is required"),
    ("surcharge_rate", 0.03, "invoice.surcharge_rate: must be a decimal string"),
    ("surcharge_rate", "1", "invoice.surcharge_rate: must be less than 1"),
    ("surcharge_rate", "-0.01", "invoice.surcharge_rate: must be between 0 and 1"),
    ("amount_requested", 0, "invoice.amount_requested: must be at least 1"),
    ("amount_requested", True, "invoice.amount_requested: must be an integer"),
    ("amount_requested", "10.00", "invoice.amount_requested: must be an integer"),
    ("promo_codes", [1], "invoice.promo_codes: must be a list of strings"),
    ("promo_codes", "P10", "invoice.promo_codes: must be a list"),
    ("lines", {"0": {}}, "invoice.lines: must be a list"),
    ("payments", None, "invoice.payments: must be a list"),
    ("totals", _DELETE, "totals: expected an object"),
    ("totals.total", "100", "totals.total: must be an integer"),
    ("totals.balance_due", _DELETE, "totals.balance_due: must be an integer"),
    ("client", "Ada", "client: expected an object"),
    ("client.id", _DELETE, "client.id: is required"),
    ("client.sms_consent", "yes", "client.sms_consent: must be true or false"),
    ("lines[0]", "Haircut", "lines[0]: expected an object"),
    ("lines[0].kind", "spaceship", "lines[0].kind: unknown kind"),
    ("lines[0].kind", _DELETE, "lines[0].kind: is required"),
    ("lines[0].name", "", "lines[0].name: must not be empty"),
    ("lines[0].name", "x" * 501, "lines[0].name: is longer than 500 characters"),
    ("lines[0].unit_price", -1, "lines[0].unit_price: must be at least 0"),
    ("lines[0].unit_price", 10**13, "lines[0].unit_price: is too large"),
    ("lines[0].unit_price", 45.0, "lines[0].unit_price: must be an integer"),
    ("lines[0].unit_price", False, "lines[0].unit_price: must be an integer"),
    ("lines[0].quantity", True, "lines[0].quantity: must be an integer"),
    ("lines[0].quantity", 0, "lines[0].quantity: must be at least 1"),
    ("lines[0].quantity", 1000, "lines[0]: quantity must be between 1 and 999"),
    ("lines[0].tax_rate", 0.0825, "lines[0].tax_rate: must be a decimal string"),
    ("lines[0].tax_rate", "abc", "lines[0].tax_rate: is not a decimal number"),
    ("lines[0].tax_rate", "NaN", "lines[0].tax_rate: must be between 0 and 1"),
    ("lines[0].tax_rate", "1", "lines[0]: tax rate must be a fraction"),
    ("lines[3].tax_rate", "0.05", "lines[3]: gift cards are not taxed"),
    ("lines[0].discount", {"percent": "0"}, "lines[0].discount: a percent discount must be more than 0%"),
    ("lines[0].discount", {"amount": 0}, "lines[0].discount.amount: must be at least 1"),
    ("lines[0].discount", "10%", "lines[0].discount: expected an object"),
    ("lines[0].prepaid", "voucher", "lines[0].prepaid: unknown coverage"),
    ("lines[1].prepaid", "package", "lines[1]: only services and classes"),
    ("lines[0].start", "2025-03-01T15:00:00", "lines[0].start: needs a time zone"),
    ("payments[0].amount", -5, "payments[0].amount: must be at least 0"),
    ("payments[0].amount", 10**13, "payments[0].amount: is too large"),
    ("payments[0].tip", "3.00", "payments[0].tip: must be an integer"),
    ("payments[0].method", "bitcoin", "payments[0].method: unknown payment method"),
    ("payments[0].received_at", "2025-03-01T12:00:00", "payments[0].received_at: needs a time zone"),
    ("payments[0].id", _DELETE, "payments[0].id: is required"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_DOCUMENTS, ids=[f"{p}=" + ("deleted" if v is _DELETE else repr(v)[:40]) for p, v, _ in BAD_DOCUMENTS]
)
def test_from_wire_refuses_bad_input_naming_the_field(path: str, value: Any, message: str) -> None:
    document = wire()
    _set(path, value)(document)
    with pytest.raises(InvoiceFormatError) as refused:
        Invoice.from_wire(document)
    assert str(refused.value).startswith(message)


def test_from_wire_refuses_a_document_that_is_not_an_object() -> None:
    documents: list[Any] = [None, [], "invoice", 42]
    for document in documents:
        with pytest.raises(InvoiceFormatError, match="invoice: expected an object"):
            Invoice.from_wire(document)


def test_from_wire_takes_200_lines_and_refuses_201() -> None:
    document = wire()
    one = document["lines"][1]
    document["lines"] = [{**one, "id": f"l{i}"} for i in range(MAX_LINES)]
    document["client"] = None
    assert len(Invoice.from_wire(document).lines) == MAX_LINES
    document["lines"].append({**one, "id": "one-too-many"})
    with pytest.raises(InvoiceFormatError, match=r"invoice\.lines: an invoice has at most 200 lines"):
        Invoice.from_wire(document)


def test_from_wire_defaults_missing_optional_fields() -> None:
    document = wire()
    for name in ("locale", "promo_codes", "payments", "amount_requested", "surcharge_rate"):
        del document[name]
    invoice = Invoice.from_wire(document)
    assert invoice.locale == "en_US"
    assert invoice.promo_codes == () and invoice.payments == ()
    assert invoice.amount_requested is None and invoice.surcharge_rate == 0


# -- totals_difference and requested amounts -------------------------------------------------------------
def test_totals_difference_is_empty_when_the_claim_matches() -> None:
    invoice = sample_invoice()
    assert totals_difference(invoice.totals, invoice.price(PROMOTIONS)) == {}


def test_totals_difference_names_each_field_that_differs() -> None:
    invoice = sample_invoice()
    priced = invoice.price(PROMOTIONS)
    claimed = {**invoice.totals, "total": invoice.totals["total"] - 1}
    assert totals_difference(claimed, priced) == {
        "total": {"claimed": invoice.totals["total"] - 1, "computed": priced.total.minor}
    }
    # A companion without the store's promotion computes no promo saving: the claim is refused.
    without_promotions = totals_difference(invoice.totals, invoice.price())
    assert {"promos", "tax", "total", "balance_due", "tip_base"} <= set(without_promotions)
    missing = {k: v for k, v in invoice.totals.items() if k != "paid"}
    assert set(totals_difference(missing, priced)) == {"paid"}  # a missing claim counts as zero


def test_check_requested_amount() -> None:
    balance = usd(10000)
    check_requested_amount(usd(1), balance)
    check_requested_amount(balance, balance)
    with pytest.raises(ValueError, match="more than zero"):
        check_requested_amount(usd(0), balance)
    with pytest.raises(ValueError, match="more than zero"):
        check_requested_amount(usd(-100), balance)
    with pytest.raises(ValueError, match=r"cannot be more than the balance due \(\$100\.00\)"):
        check_requested_amount(usd(10001), balance)
    with pytest.raises(CurrencyMismatchError):
        check_requested_amount(Money(100, "EUR"), balance)


def test_from_ticket_refuses_a_requested_amount_above_the_balance() -> None:
    balance = sample_invoice().totals["balance_due"]
    assert sample_invoice(amount_requested=usd(balance)).amount_requested == usd(balance)
    with pytest.raises(ValueError, match="balance due"):
        sample_invoice(amount_requested=usd(balance + 1))


def test_amount_due_now_is_the_requested_amount_capped_by_what_is_still_due() -> None:
    invoice = sample_invoice(amount_requested=usd(1500))
    priced = invoice.price(PROMOTIONS)
    assert invoice.amount_due_now(priced) == usd(1500)
    assert sample_invoice().amount_due_now(priced) == priced.balance_due
    nearly_paid = price_lines(
        invoice.lines, "USD", promo_codes=invoice.promo_codes, promotions=PROMOTIONS,
        payments=[*invoice.payments, Payment("p2", priced.balance_due - usd(700), usd(0), PaymentMethod.CASH, PAID_AT)],
        surcharge_rate=invoice.surcharge_rate,
        per_tender=True,
    )
    assert invoice.amount_due_now(nearly_paid) == usd(700)
