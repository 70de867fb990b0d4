"""The ticket editor's rules without Qt: coverage by what the client holds, and the save state machine."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from posdesk.core.catalog import AppointmentDetails, CatalogItem, GiftCardDetails, ItemKind
from posdesk.core.client import Client, Holdings, MembershipHolding, PackageHolding
from posdesk.core.money import Money
from posdesk.core.ticket import Coverage, LineDiscount, Payment, PaymentMethod, TicketState
from posdesk.pos.editor import TicketEditor, parse_discount

TODAY = date(2026, 3, 2)
CUT = CatalogItem(
    "svc_cut", ItemKind.APPOINTMENT, "Haircut", Money(4000, "USD"), AppointmentDetails(staff="Sam")
)
GIFT = CatalogItem("gift", ItemKind.GIFT_CARD, "Gift card", Money(0, "USD"), GiftCardDetails())
ADA = Client("c_ada", "Ada", "Lovelace")
BOB = Client("c_bob", "Bob", "Plain")
TWO_CUTS = Holdings(packages=(PackageHolding("pkg", "5 haircuts", frozenset({"svc_cut"}), 2),))


def editor() -> TicketEditor:
    return TicketEditor("USD", lambda: TODAY)


def test_a_package_covers_as_many_lines_as_it_has_sessions_and_no_more() -> None:
    e = editor()
    e.set_client(ADA, TWO_CUTS)
    covered = [e.add_item(CUT).prepaid for _ in range(3)]
    assert covered == [Coverage.PACKAGE, Coverage.PACKAGE, None]


def test_changing_the_client_moves_coverage_to_what_the_new_client_holds() -> None:
    e = editor()
    e.add_item(CUT)
    assert e.ticket.lines[0].prepaid is None
    e.set_client(ADA, TWO_CUTS)
    assert e.ticket.lines[0].prepaid is Coverage.PACKAGE
    gold = Holdings(memberships=(MembershipHolding("gold", "Gold", frozenset({"svc_cut"}), TODAY),))
    e.set_client(BOB, gold)
    assert (e.ticket.lines[0].prepaid, e.ticket.lines[0].prepaid_holding_id) == (Coverage.MEMBERSHIP, "gold")
    e.set_client(None, gold)  # walk-in: holds nothing
    assert e.ticket.lines[0].prepaid is None


def test_a_gift_card_line_carries_its_amount_and_recipient() -> None:
    line = editor().add_item(GIFT, amount=Money(5000, "USD"), recipient="Mia")
    assert (line.unit_price.minor, line.note) == (5000, "For Mia")


def test_discounts_parse_as_percent_or_amount_and_refuse_nonsense() -> None:
    assert parse_discount("10%", "USD", "en_US") == LineDiscount(percent=Decimal("0.1"))
    assert parse_discount("$5.00", "USD", "en_US") == LineDiscount(amount=Money(500, "USD"))
    assert parse_discount("", "USD", "en_US") is None
    with pytest.raises(ValueError, match="10%"):
        parse_discount("ten%", "USD", "en_US")
    e = editor()
    line = e.add_item(CUT)
    assert e.set_discount(line.id, "10%", "en_US") is True
    assert e.set_discount(line.id, "10%", "en_US") is False  # the same discount is no edit


def test_a_second_save_waits_for_the_first_and_runs_after_it() -> None:
    e = editor()
    e.add_item(CUT)
    first = e.begin_save()
    assert first is not None and first.base_revision is None and e.saving
    e.add_item(CUT)  # edited while the save is out
    assert e.begin_save() is None  # a second Ctrl+S: remembered
    ran: list[str] = []
    assert e.when_saved(lambda: ran.append("send")) is True  # waits for the revision
    assert e.defer_if_saving({e.ticket.id}) is True  # a change seen now is looked at afterwards
    stored = replace(first.ticket, number=7)
    e.saved(stored, None)
    after = e.finish_save(ok=True)
    assert after.save_again and e.dirty  # the second edit is not saved yet
    assert after.changed == {e.ticket.id}
    assert [action() for action in after.waiting] and ran == ["send"]
    assert e.ticket.number == 7 and e.saved_revision == stored.revision and not e.saving


def test_a_refused_save_drops_what_waited_for_it() -> None:
    e = editor()
    e.add_item(CUT)
    e.begin_save()
    e.when_saved(lambda: None)
    after = e.finish_save(ok=False)
    assert not after.save_again and after.waiting == [] and e.saved_revision is None


def saved_editor() -> TicketEditor:
    e = editor()
    e.set_client(ADA, Holdings())
    e.add_item(CUT)
    request = e.begin_save()
    assert request is not None
    e.saved(request.ticket, None)
    e.finish_save(ok=True)
    return e


def paid_elsewhere(e: TicketEditor, amount: int = 1000) -> object:
    stored = e.stored
    assert stored is not None
    stored = copy.deepcopy(stored)
    payment = Payment(
        "p1", Money(amount, "USD"), Money(0, "USD"), PaymentMethod.ONLINE_CARD, datetime.now(UTC)
    )
    stored.record_payment(payment, Money(4000 - amount, "USD"))
    return stored


def test_a_payment_that_arrives_during_edits_is_merged_and_the_edits_can_still_be_saved() -> None:
    e = saved_editor()
    e.add_item(CUT)  # unsaved edit
    stored = paid_elsewhere(e)
    assert e.concerns({e.ticket.id}) and e.take_stored(stored) == "merged"  # type: ignore[arg-type]
    assert e.ticket.state is TicketState.PARTIALLY_PAID and len(e.ticket.payments) == 1
    assert len(e.ticket.lines) == 2 and e.dirty
    assert e.saved_revision == stored.revision  # type: ignore[attr-defined]  # edits build on it now


def test_a_change_of_content_elsewhere_is_not_merged_into_the_edits() -> None:
    e = saved_editor()
    e.add_item(CUT)
    assert e.stored is not None
    elsewhere = copy.deepcopy(e.stored)
    elsewhere.add_promo_code("SPRING")  # someone else changed the ticket's content
    before = e.saved_revision
    assert e.take_stored(elsewhere) == "merged"
    assert e.saved_revision == before  # the save stays refused as stale


def test_without_edits_the_stored_ticket_is_taken_whole() -> None:
    e = saved_editor()
    stored = paid_elsewhere(e, amount=4000)
    assert e.take_stored(stored) == "replaced"  # type: ignore[arg-type]
    assert e.ticket.is_closed and e.read_only and not e.dirty
