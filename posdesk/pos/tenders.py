"""Taking payment at the counter: cash, the counter card terminal, a gift card, or other means.

:func:`record_tender` records one tender on a saved ticket in one local transaction: the payment on the
ticket (a tender that brings the balance to zero closes it), the gift card's balance, and an outbox entry
that records it at the companion (``POST /api/v1/tenders``), so every terminal and the day summary see
it; offline it waits in the outbox like everything else. A ticket whose invoice link is still live gets
its link revoked when the tender settles it, or re-issued for the rest (a new version of the same link,
whose page shows the smaller balance) when it does not: the client cannot pay twice. At the companion
the payments ledger counts the tender toward the invoice at once, so the link asks only for the rest
even before the re-issue arrives; a ticket another terminal invoiced (no link here) takes tenders too,
and the companion counts them toward that terminal's invoice (``posdesk.companion.tenders``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from posdesk.core.events import LinkStatus
from posdesk.core.money import Money
from posdesk.core.pricing import card_surcharge, price_at_counter
from posdesk.core.ticket import Payment, PaymentMethod, Ticket, TicketStateError, new_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from posdesk.store import Database, InvoiceRecord, TerminalSettings

TENDER_METHODS = (
    (PaymentMethod.CASH, "Cash"),
    (PaymentMethod.CARD, "Card on the counter terminal"),
    (PaymentMethod.GIFT_CARD, "Gift card"),
    (PaymentMethod.OTHER, "Other"),
)
TENDERS_PATH = "/tenders"
LIVE_LINK = (LinkStatus.PREPARING, LinkStatus.SENT, LinkStatus.OPENED, LinkStatus.PARTIALLY_PAID)


class TenderError(ValueError):
    """The tender cannot be taken as entered; the message says why, in the cashier's words."""


@dataclass(frozen=True, slots=True)
class Tender:
    """What the cashier entered. For cash, ``given`` is what the client handed over (change comes back).

    ``tip`` is on top of the amount, kept apart from it like an online tip (never surcharged); for cash
    it comes out of what was handed over before the balance does.
    """

    method: PaymentMethod
    given: Money
    reference: str = ""
    gift_card_code: str = ""
    tip: Money | None = None

    def tip_or_zero(self) -> Money:
        return self.tip if self.tip is not None else Money.zero(self.given.currency)


@dataclass(frozen=True, slots=True)
class TenderPlan:
    amount: Money  # toward the balance
    change: Money  # handed back (cash only)
    surcharge: Money  # on top of the amount (a card tender only; recorded with it)

    @property
    def charged(self) -> Money:
        """What the client pays and the tender records: the amount and its surcharge."""
        return self.amount + self.surcharge


def plan_tender(tender: Tender, balance_due: Money, surcharge_rate: Decimal = Decimal(0)) -> TenderPlan:
    """How much of ``tender`` goes to the balance, the change, and the card surcharge on top (card
    amounts only, as MyTime: never cash, gift cards or other). Raises :class:`TenderError`."""
    zero = Money.zero(balance_due.currency)
    if not tender.given.is_positive():
        raise TenderError("Enter an amount above zero")
    if not balance_due.is_positive():
        raise TenderError("Nothing is due on this ticket")
    tip = tender.tip_or_zero()
    if tip.is_negative():
        raise TenderError("A tip cannot be negative")
    if tender.method is PaymentMethod.CASH:
        if tender.given <= tip:
            raise TenderError(f"The cash handed over must be more than the tip, {tip.format()}")
        amount = (tender.given - tip).min(balance_due)
        return TenderPlan(amount, tender.given - tip - amount, zero)
    if tender.given > balance_due:
        raise TenderError(f"At most the balance due, {balance_due.format()}, for this method")
    if tender.method is PaymentMethod.GIFT_CARD and not tender.gift_card_code.strip():
        raise TenderError("Enter the gift card's code")
    surcharge = card_surcharge(tender.given, surcharge_rate) if tender.method is PaymentMethod.CARD else zero
    return TenderPlan(tender.given, zero, surcharge)


@dataclass(frozen=True, slots=True)
class TenderOutcome:
    ticket: Ticket
    payment: Payment | None
    change: Money
    link: str  # "revoked", "reissued" or "" (no live link)


def balance_due(ticket: Ticket, settings: TerminalSettings) -> Money:
    return price_at_counter(ticket, settings.promotions_by_code(), settings.surcharge_rate).balance_due


def tip_refusal(tip: Money, ticket: Ticket, settings: TerminalSettings) -> str:
    """Why a tip taken at the counter cannot be recorded ("" when it can): the page's rules, not
    negative and within the store's tip cap for the ticket as a whole (less the tips already on it)."""
    from posdesk.core.tips import tip_cap_left

    if tip.is_negative():
        return "A tip cannot be negative"
    if tip.is_zero():
        return ""
    priced = price_at_counter(ticket, settings.promotions_by_code(), settings.surcharge_rate)
    before = sum((p.tip for p in ticket.payments), Money.zero(ticket.currency))
    cap = tip_cap_left(settings.tip_policy, priced.tip_base, before)
    return f"A tip can be at most {cap.format()}" if tip > cap else ""


def gift_card_balance(session: Session, code: str) -> Money | None:
    """The balance of a gift card sold through the POS (a paid ticket's, or held by a client), or None
    for an unknown code."""
    from posdesk.store.gift_cards import GiftCardRepository

    sold = GiftCardRepository(session).get(code)
    if sold is not None:
        return sold.balance
    row = _gift_card(session, code)
    return Money(row.balance_minor or 0, row.currency or "USD") if row is not None else None


def gift_card_refusal(balance: Money | None, amount: Money) -> str:
    """Why a gift card cannot pay ``amount`` ("" when it can)."""
    if balance is None:
        return "No gift card with this code was sold here"
    if not balance.is_positive():
        return "This gift card is used up: nothing is left on it"
    if balance < amount:
        return f"This gift card has {balance.format()} left"
    return ""


def _gift_card(session: Session, code: str) -> Any:
    from sqlalchemy import func, select

    from posdesk.store.models import ClientHoldingRow

    return session.scalars(
        select(ClientHoldingRow).where(
            ClientHoldingRow.kind == "gift_card",
            func.upper(ClientHoldingRow.holding_id) == code.strip().upper(),
        )
    ).first()


def take_at_companion(
    companion_url: str, credential: str, code: str, amount: Money, ticket_id: str
) -> tuple[str, bool]:
    """Take ``amount`` off a sold gift card at the companion before the tender is recorded, so two
    terminals cannot both spend the same balance; returns the use's id and whether the companion took
    it (not when it cannot be reached or does not know the card yet: the use is then checked here and
    sent from the outbox under the same id, so a use the companion took without its answer arriving
    is recorded once). Raises :class:`TenderError` with what is left when the card does not cover it."""
    from posdesk.core.gift_cards import normalize_code
    from posdesk.sync.client import BlockingCompanion, CompanionRejected, CompanionUnavailable

    use_id = new_id()
    body = {"use_id": use_id, "amount": amount.minor, "currency": amount.currency, "ticket_id": ticket_id}
    try:
        with BlockingCompanion(companion_url, credential) as companion:
            companion.post(f"/gift-cards/{normalize_code(code)}/uses", {**body, "covered_only": True})
    except CompanionUnavailable:
        return use_id, False
    except CompanionRejected as exc:
        if exc.status == 409 and isinstance(exc.detail, dict) and "balance" in exc.detail:
            left = Money(int(exc.detail["balance"]), amount.currency)
            raise TenderError(f"This gift card has only {left.format()} left") from None
        if exc.status == 404:
            return use_id, False
        raise TenderError(f"The gift card was not accepted: {exc.detail}") from None
    return use_id, True


def _redeem_gift_card(
    session: Session, code: str, amount: Money, ticket_id: str = "", use_id: str = "", taken: bool = False
) -> None:
    """``use_id``: the use's id (new when ""); ``taken``: the companion took it already (its balance,
    not this terminal's, counts)."""
    from posdesk.store.gift_cards import GiftCardRepository

    cards = GiftCardRepository(session)
    sold = cards.get(code)
    if sold is not None:  # sold on a ticket here: the use goes to the companion too
        refusal = "" if taken else gift_card_refusal(sold.balance, amount)
        if refusal:
            raise TenderError(refusal)
        cards.use(code, amount, ticket_id, use_id=use_id)
        return
    row = _gift_card(session, code)
    if row is None:
        raise TenderError("No gift card with this code was sold here")
    balance = Money(row.balance_minor or 0, row.currency or amount.currency)
    if balance < amount:
        raise TenderError(f"This gift card has {balance.format()} left")
    row.balance_minor = (balance - amount).minor


def tender_wire(ticket: Ticket, payment: Payment, invoice_id: str | None) -> dict[str, Any]:
    return {
        "id": payment.id,
        "ticket_id": ticket.id,
        "invoice_id": invoice_id,
        "method": payment.method.value,
        "amount": payment.amount.minor,
        "tip": payment.tip.minor,
        "currency": payment.amount.currency,
        "reference": payment.reference,
        "received_at": payment.received_at.isoformat(),
    }


def record_tender(
    db: Database,
    ticket_id: str,
    tender: Tender,
    settings: TerminalSettings,
    *,
    companion_url: str = "",
    credential: str = "",
    now: datetime | None = None,
) -> TenderOutcome:
    """Record ``tender`` on the saved ticket (see the module's docstring). Raises :class:`TenderError`.

    With a ``credential``, a gift card sold through the POS is first taken at the companion
    (:func:`take_at_companion`); nothing is recorded when it does not cover the amount."""
    from posdesk.store import TicketRepository

    now = now or datetime.now(UTC)
    use_id, taken = "", False
    if tender.method is PaymentMethod.GIFT_CARD and companion_url and credential:
        with db.reading() as session:
            ticket = _tenderable(TicketRepository(session).get(ticket_id))
            plan = plan_tender(tender, balance_due(ticket, settings), settings.surcharge_rate)
            on_card = plan.amount + tender.tip_or_zero()
            known = _sold_card(session, tender.gift_card_code)
        if known:
            use_id, taken = take_at_companion(companion_url, credential, tender.gift_card_code, on_card, ticket_id)
    try:
        return _record(db, ticket_id, tender, settings, companion_url, now, use_id, taken)
    except Exception:
        if taken:  # the tender was not recorded: the card gets its value back
            _put_back(db, tender.gift_card_code, on_card, ticket_id)
        raise


def _tenderable(ticket: Ticket | None) -> Ticket:
    if ticket is None:
        raise TenderError("Save the ticket before taking payment")
    if ticket.is_closed:
        raise TenderError(f"Ticket {ticket.number} is {ticket.state.label.lower()}")
    return ticket


def _sold_card(session: Session, code: str) -> bool:
    from posdesk.store.gift_cards import GiftCardRepository

    return GiftCardRepository(session).get(code) is not None


def _put_back(db: Database, code: str, amount: Money, ticket_id: str) -> None:
    """Give the companion back a use it took for a tender that was then not recorded (this terminal's
    balance was never lowered for it)."""
    from posdesk.core.gift_cards import normalize_code
    from posdesk.store import Outbox
    from posdesk.store.gift_cards import GIFT_CARDS_PATH

    use_id = new_id()
    body = {"use_id": use_id, "amount": -amount.minor, "currency": amount.currency, "ticket_id": ticket_id}
    with db.session() as session:
        path = f"{GIFT_CARDS_PATH}/{normalize_code(code)}/uses"
        Outbox(session).enqueue("api.post", f"gift-card-use:{use_id}", {"path": path, "body": body})


def _record(
    db: Database,
    ticket_id: str,
    tender: Tender,
    settings: TerminalSettings,
    companion_url: str,
    now: datetime,
    use_id: str,
    taken: bool,
) -> TenderOutcome:
    from posdesk.store import InvoiceRecordRepository, Outbox, TicketRepository

    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = _tenderable(tickets.get(ticket_id))
        due = balance_due(ticket, settings)
        plan = plan_tender(tender, due, settings.surcharge_rate)
        refusal = tip_refusal(tender.tip_or_zero(), ticket, settings)
        if refusal:
            raise TenderError(refusal)
        if tender.method is PaymentMethod.GIFT_CARD:
            # The card pays the tip too: a tip is money the client gives, whatever pays it.
            _redeem_gift_card(session, tender.gift_card_code, plan.amount + tender.tip_or_zero(), ticket.id, use_id, taken)
        reference = tender.gift_card_code.strip().upper() if tender.method is PaymentMethod.GIFT_CARD else ""
        payment = Payment(
            id=new_id(),
            amount=plan.charged,
            tip=tender.tip_or_zero(),
            method=tender.method,
            received_at=now,
            reference=reference or tender.reference.strip()[:100],
        )
        base = ticket.revision
        try:
            ticket.record_payment(payment, due - plan.amount)
        except TicketStateError as exc:
            raise TenderError(str(exc)) from None
        tickets.save(ticket, base_revision=base)
        record = InvoiceRecordRepository(session).get(ticket.id)
        Outbox(session).enqueue(
            "api.post",
            f"tender:{payment.id}",
            {
                "path": TENDERS_PATH,
                "body": tender_wire(ticket, payment, record.invoice_id if record else None),
            },
            now=now,
        )
        if record is None and payment.tip.is_positive():
            _send_default_tip_split(session, ticket, payment, settings, now)
        link = _settle_link(session, ticket, record, now) if _is_live(record, now) else ""
    if link == "reissue":
        from posdesk.sync.invoice_links import send_invoice

        send_invoice(
            db, ticket_id, amount_requested=None, companion_url=companion_url, settings=settings, now=now
        )
        link = "reissued"
    with db.reading() as session:
        stored = TicketRepository(session).get(ticket_id)
    assert stored is not None
    return TenderOutcome(stored, payment, plan.change, link)


def _send_default_tip_split(
    session: Session, ticket: Ticket, payment: Payment, settings: TerminalSettings, now: datetime
) -> None:
    """The companion knows the lines of invoiced tickets only: for a tender's tip on a ticket this
    terminal never invoiced, the default split by this ticket's providers goes with it, so the store's
    tips by provider do not say "Unassigned" (a manager's later split replaces it: the last one wins)."""
    from posdesk.core.tip_split import provider_bases, split_tip
    from posdesk.pos.tip_splits import TIP_SPLITS_PATH
    from posdesk.store import Outbox

    priced = price_at_counter(ticket, settings.promotions_by_code(), settings.surcharge_rate)
    shares = split_tip(payment.tip, provider_bases(ticket.lines, priced))
    Outbox(session).enqueue(
        "api.post",
        f"tip-split:{payment.id}:default",
        {
            "path": f"{TIP_SPLITS_PATH}/{payment.id}",
            "body": {
                "ticket_id": ticket.id,
                "currency": payment.tip.currency,
                "shares": {who: share.minor for who, share in shares.items()},
            },
        },
        now=now,
    )


def _is_live(record: InvoiceRecord | None, now: datetime) -> bool:
    return record is not None and record.link_status in LIVE_LINK and record.expires_at > now


def _settle_link(session: Session, ticket: Ticket, record: InvoiceRecord | None, now: datetime) -> str:
    """Revoke the live link of a settled ticket; a ticket with a balance left gets it re-issued."""
    from posdesk.store import InvoiceRecordRepository, Outbox

    assert record is not None
    if not ticket.is_closed:
        return "reissue"
    InvoiceRecordRepository(session).advance_link_status(ticket.id, LinkStatus.REVOKED)
    Outbox(session).enqueue(
        "invoice.revoke", f"revoke:{record.invoice_id}", {"invoice_id": record.invoice_id}, now=now
    )
    return "revoked"


def close_settled_ticket(db: Database, ticket_id: str, settings: TerminalSettings) -> Ticket:
    """Close a ticket with nothing due (fully prepaid, or paid online without a tip) in one click."""
    from posdesk.core.ticket import TicketState
    from posdesk.store import InvoiceRecordRepository, TicketRepository

    now = datetime.now(UTC)
    with db.session() as session:
        tickets = TicketRepository(session)
        ticket = tickets.require(ticket_id, TenderError("Save the ticket before closing it"))
        if ticket.is_closed:
            return ticket
        if balance_due(ticket, settings).is_positive():
            raise TenderError("This ticket still has a balance: take payment first")
        base = ticket.revision
        ticket.move_to(TicketState.PAID)
        tickets.save(ticket, base_revision=base)
        record = InvoiceRecordRepository(session).get(ticket.id)
        if _is_live(record, now):
            _settle_link(session, ticket, record, now)
        return ticket
