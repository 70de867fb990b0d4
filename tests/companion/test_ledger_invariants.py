"""The payments ledger's invariants, each as the fault a client, an attacker or bad luck would cause.

A real companion (uvicorn on loopback) with the Simulator gateway; the POS side speaks the POS API, the
client drives the payment page without JavaScript, and the Simulator's books are read to count what a
card was really charged. Concurrency cases run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy

from posdesk.companion.models import Payment, Store, WebhookEvent, utcnow
from posdesk.companion.payments import gateway_directory
from posdesk.core.money import Money
from posdesk.gateways.base import ChargeStatus, GatewayPayment, Unavailable, payment_to_wire
from posdesk.gateways.signing import sign
from posdesk.gateways.simulator import APPROVES, ASKS_3DS, SIGNATURE_HEADER, SimulatorGateway
from tests.companion.conftest import Companion, events, eventually, invoice_upload, put_invoice, service_line

V1_TOTAL = 6000  # a haircut
V2_TOTAL = 8500  # the haircut dearer, after the cashier edited the ticket


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


class Phone:
    """One client's browser on one link (no JavaScript)."""

    def __init__(self, companion: Companion, token: str) -> None:
        self.token = token
        self.client = companion.client(follow_redirects=False)
        self.csrf = csrf_of(self.client.get(f"/pay/{token}").text)

    def post(self, path: str, **fields: Any) -> httpx.Response:
        return self.client.post(f"/pay/{self.token}{path}", data={"csrf": self.csrf, **fields})

    def pay(self, version: int, number: str) -> httpx.Response:
        return self.post("/pay", version=str(version), tip="none", sim_number=number, sim_exp="12 / 39", sim_cvc="123")

    def start_3ds(self, version: int) -> str:
        """Pay with a card that asks for 3-D Secure and stop at the bank's page: its approve path."""
        asked = self.pay(version, ASKS_3DS)
        assert asked.status_code == 303 and asked.headers["location"].split("?")[0].endswith("/authenticate"), asked.text[:300]
        page = self.client.get(asked.headers["location"]).text
        return re.search(r'action="/pay/[^/"]+(/payments/[^"]+/authenticate)"', page).group(1)


def ticket(companion: Companion, price: int, version: int = 1, **same: str) -> dict[str, Any]:
    body = invoice_upload(lines=[service_line(price=price)], version=version, **same)
    answer = put_invoice(companion.api, body)
    assert answer.status_code in (200, 201), answer.text
    return body


def new_version(companion: Companion, first: dict[str, Any], price: int) -> dict[str, Any]:
    return ticket(
        companion, price, version=2, invoice_id=first["invoice_id"], ticket_id=first["ticket_id"], link_token=first["link_token"]
    )


def simulator(companion: Companion) -> SimulatorGateway:
    with companion.db.read() as session:
        store = session.get(Store, companion.terminal.store_id)
        assert store is not None
        gateway = gateway_directory(companion.app.state).for_store(store)
    assert isinstance(gateway, SimulatorGateway)
    return gateway


def taken(companion: Companion, invoice_id: str) -> int:
    """What the Simulator really took from cards for an invoice: succeeded charges less refunds."""
    books = simulator(companion).ledger
    with books.lock:
        charged = [p for p in books.payments.values() if p.metadata.get("invoice_id") == invoice_id]
        return sum(
            (p.amount + p.tip).minor - books.refunded.get(p.ref, 0)
            for p in charged
            if p.status in (ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED)
        )


def payments_of(companion: Companion, invoice_id: str) -> list[Payment]:
    with companion.db.read() as session:
        found = session.query(Payment).filter_by(invoice_id=invoice_id).order_by(Payment.created_at).all()
        session.expunge_all()
        return found


# -- (1) a new version cancels what the old one started; (2) so does a revoke ----------------------------
def test_a_new_version_cancels_the_3ds_attempt_and_approving_it_later_charges_nothing(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    approve_v1 = phone.start_3ds(version=1)
    new_version(companion, first, V2_TOTAL)  # the cashier edits the ticket; the same link
    [v1] = payments_of(companion, first["invoice_id"])
    assert v1.status == "canceled"  # before the POS had its answer
    other_phone = Phone(companion, first["link_token"])
    assert other_phone.pay(2, APPROVES).status_code == 303
    late = phone.post(approve_v1, outcome="approve")  # the client comes back from the bank's page
    assert late.status_code in (303, 404, 409)
    assert taken(companion, first["invoice_id"]) == V2_TOTAL
    assert len(events(companion, "invoice.paid")) == 1


def test_a_revoked_link_does_not_complete_a_pending_3ds_charge(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    approve = phone.start_3ds(version=1)
    assert companion.api.post(f"/api/v1/invoices/{first['invoice_id']}/revoke").status_code == 200
    phone.post(approve, outcome="approve")
    assert taken(companion, first["invoice_id"]) == 0
    view = companion.api.get(f"/api/v1/invoices/{first['invoice_id']}").json()
    assert view["status"] == "revoked" and events(companion, "invoice.paid") == []


def test_a_success_that_still_arrives_for_a_superseded_version_is_refunded_and_reported(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    phone.start_3ds(version=1)

    def bank_busy(self: SimulatorGateway, payment_ref: str) -> None:
        raise Unavailable("the bank is busy")

    monkeypatch.setattr(SimulatorGateway, "cancel_attempt", bank_busy)  # the cancel cannot get through
    new_version(companion, first, V2_TOTAL)
    [v1] = payments_of(companion, first["invoice_id"])
    assert v1.gateway_payment_id
    simulator(companion).confirm_action(v1.gateway_payment_id, {"outcome": "approve"})  # the bank completes v1
    [refunded] = eventually(lambda: events(companion, "payment.refunded_stale"))
    assert refunded["data"]["payment_id"] == v1.id and refunded["data"]["amount"] == V1_TOTAL
    assert refunded["data"]["invoice_version"] == 1 and refunded["data"]["reason"] == "superseded"
    assert taken(companion, first["invoice_id"]) == 0
    view = companion.api.get(f"/api/v1/invoices/{first['invoice_id']}").json()
    assert view["status"] != "paid"
    assert events(companion, "invoice.paid") == [] and events(companion, "invoice.partially_paid") == []
    # The new version is still payable in full.
    assert Phone(companion, first["link_token"]).pay(2, APPROVES).status_code == 303
    assert taken(companion, first["invoice_id"]) == V2_TOTAL


# -- (3) an event touches only the store whose secret verified it ----------------------------------------
# -- (8) events that disagree are kept for review and reported -------------------------------------------
def simulator_event(companion: Companion, invoice: dict[str, Any], *, status: str = "succeeded", ref: str = "pi_sim_x",
                    payment_id: str | None = None, amount: int = V1_TOTAL, tip: int = 0, version: int = 1,
                    store_id: str | None = None, event_type: str | None = None, currency: str = "USD",
                    event_id: str | None = None, **payment_fields: Any) -> bytes:
    """The Simulator's webhook body (before signing) for a payment on ``invoice``; ``payment_fields`` are
    the payment's other fields, such as ``method_ref``."""
    payment = GatewayPayment(
        ref=ref,
        status=ChargeStatus(status),
        amount=Money(amount, currency),
        tip=Money(tip, currency),
        metadata={
            "store_id": store_id or companion.terminal.store_id,
            "invoice_id": invoice["invoice_id"],
            "invoice_version": str(version),
            "payment_id": payment_id or uuid.uuid4().hex,
            "kind": "invoice",
        },
        card_brand="visa",
        card_last4="4242",
        **payment_fields,
    )
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": event_type or f"payment.{status}",
        "created": int(time.time()),
        "data": {"object": payment_to_wire(payment)},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def deliver(companion: Companion, raw: bytes) -> None:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(companion.config.simulator_webhook_secret, raw)}
    assert companion.client().post("/webhooks/simulator", content=raw, headers=headers).status_code == 200


def kept_for_review(companion: Companion) -> list[WebhookEvent]:
    with companion.db.read() as session:
        found = [row for row in session.query(WebhookEvent).all() if row.last_error.startswith("review")]
        session.expunge_all()
        return found


@pytest.mark.parametrize(
    "figures",
    [
        {"amount": 1},  # less than the record
        {"amount": 60000},
        {"version": 99},
    ],
    ids=["amount-1", "amount-60000", "version-99"],
)
def test_an_event_that_disagrees_with_its_payment_is_kept_for_review_and_reported(
    companion: Companion, figures: dict[str, int]
) -> None:
    first = ticket(companion, V1_TOTAL)
    payment_id = uuid.uuid4().hex
    deliver(companion, simulator_event(companion, first, status="requires_action", payment_id=payment_id))
    assert eventually(lambda: payments_of(companion, first["invoice_id"]))
    deliver(companion, simulator_event(companion, first, payment_id=payment_id, **figures))
    [review] = eventually(lambda: events(companion, "payment.needs_review"))
    assert review["invoice_id"] == first["invoice_id"] and review["data"]["payment_id"] == payment_id
    assert kept_for_review(companion)
    [payment] = payments_of(companion, first["invoice_id"])
    assert payment.status == "requires_action" and events(companion, "invoice.paid") == []


@pytest.mark.parametrize(
    "figures",
    [{"amount": 1, "tip": -500}, {"amount": -500}, {"amount": 60000}, {"version": 99}, {"amount": 0}],
    ids=["tip-minus-500", "amount-minus-500", "amount-60000", "version-99", "zero"],
)
def test_an_event_for_a_payment_never_issued_is_believed_only_within_the_invoice(
    companion: Companion, figures: dict[str, int]
) -> None:
    first = ticket(companion, V1_TOTAL)
    deliver(companion, simulator_event(companion, first, **figures))
    [review] = eventually(lambda: events(companion, "payment.needs_review"))
    assert "reason" in review["data"]
    assert payments_of(companion, first["invoice_id"]) == []
    assert events(companion, "invoice.paid") == [] and events(companion, "invoice.partially_paid") == []


def test_an_event_for_a_payment_never_issued_within_the_invoice_is_recorded(companion: Companion) -> None:
    """The crash-recovery path still works: the companion crashed between the charge and its commit."""
    first = ticket(companion, V1_TOTAL)
    deliver(companion, simulator_event(companion, first))
    assert eventually(lambda: events(companion, "invoice.paid"))
    assert events(companion, "payment.needs_review") == []


def test_an_event_naming_another_stores_invoice_changes_nothing_there(companion: Companion, other_terminal: Any) -> None:
    """Store B's gateway account cannot settle store A's invoice: A's payment id, B's verified event."""
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    phone.start_3ds(version=1)
    [payment] = payments_of(companion, first["invoice_id"])
    from posdesk.companion.models import Invoice as InvoiceRow
    from posdesk.companion.webhooks import pipeline

    raw = simulator_event(
        companion, first, ref=payment.gateway_payment_id or "", payment_id=payment.id, store_id=other_terminal.store_id
    )
    directory = gateway_directory(companion.app.state)
    event = pipeline.verify(companion.db, directory, "simulator", raw,
                            {SIGNATURE_HEADER: sign(companion.config.simulator_webhook_secret, raw)})
    from dataclasses import replace

    row_id = pipeline.store(companion.db, "simulator", replace(event, verified_for=other_terminal.store_id))
    assert row_id is not None
    assert pipeline.process(companion.db, row_id) is True
    [still] = payments_of(companion, first["invoice_id"])
    assert still.status == "requires_action"
    with companion.db.read() as session:
        invoice = session.get(InvoiceRow, first["invoice_id"])
        assert invoice is not None and invoice.paid_minor == 0
    assert events(companion, "invoice.paid") == []
    other = companion.client(headers=other_terminal.headers)
    reviews = [e for e in other.get("/api/v1/events").json()["events"] if e["type"] == "payment.needs_review"]
    assert len(reviews) == 1 and "another store" in reviews[0]["data"]["reason"]


# -- (9) a refund reported before the success it refunds ---------------------------------------------------
def test_a_refund_reported_before_its_success_records_both_in_order(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    payment_id, ref = uuid.uuid4().hex, "pi_sim_out_of_order"
    deliver(companion, simulator_event(companion, first, status="requires_action", payment_id=payment_id, ref=ref))
    assert eventually(lambda: payments_of(companion, first["invoice_id"]))
    deliver(companion, simulator_event(companion, first, status="refunded", payment_id=payment_id, ref=ref,
                                       event_type="payment.refunded"))
    deliver(companion, simulator_event(companion, first, payment_id=payment_id, ref=ref))
    [paid] = eventually(lambda: events(companion, "invoice.paid"))
    [refunded] = eventually(lambda: events(companion, "payment.refunded"))
    assert paid["id"] < refunded["id"]
    assert refunded["data"]["refunded_total"] == V1_TOTAL
    [payment] = payments_of(companion, first["invoice_id"])
    assert payment.status == "refunded"


# -- (10) refunds of one payment are serialised -------------------------------------------------------------
@pytest.mark.parametrize(("price", "answered"), [(12000, 10), (6000, 6)], ids=["room-for-all", "room-for-six"])
def test_concurrent_partial_refunds_never_refund_more_than_asked_or_record_less(
    make_companion: Callable[[str], Companion], db_url: str, price: int, answered: int
) -> None:
    companion = make_companion(db_url)
    first = ticket(companion, price)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    [payment] = payments_of(companion, first["invoice_id"])
    clients = [companion.client(headers=companion.terminal.headers) for _ in range(10)]

    def refund(client: httpx.Client) -> int:
        return client.post(f"/api/v1/payments/{payment.id}/refund", json={"amount": 1000}).status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(refund, clients))  # ten managers ask for 10.00 at once
    refunded_at_gateway = simulator(companion).ledger.refunded.get(payment.gateway_payment_id or "", 0)
    assert answers.count(200) == answered and refunded_at_gateway == 1000 * answered
    [after] = payments_of(companion, first["invoice_id"])
    assert after.refunded_minor == refunded_at_gateway


def test_two_overlapping_refunds_are_recorded_as_the_gateway_made_them(
    make_companion: Callable[[str], Companion], db_url: str
) -> None:
    companion = make_companion(db_url)
    first = ticket(companion, 10000)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    [payment] = payments_of(companion, first["invoice_id"])

    def refund(amount: int) -> int:
        client = companion.client(headers=companion.terminal.headers)
        return client.post(f"/api/v1/payments/{payment.id}/refund", json={"amount": amount}).status_code

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert list(pool.map(refund, [5000, 4000])) == [200, 200]
    [after] = payments_of(companion, first["invoice_id"])
    assert after.refunded_minor == 9000 == simulator(companion).ledger.refunded[payment.gateway_payment_id or ""]


def test_the_simulator_honours_refund_idempotency_keys(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303
    [payment] = payments_of(companion, first["invoice_id"])
    gateway, ref = simulator(companion), payment.gateway_payment_id or ""
    once = gateway.refund(ref, Money(1000, "USD"), "refund-key-1")
    again = gateway.refund(ref, Money(1000, "USD"), "refund-key-1")
    assert again == once and gateway.ledger.refunded[ref] == 1000
    with pytest.raises(Exception, match="different refund"):
        gateway.refund(ref, Money(2000, "USD"), "refund-key-1")


# -- (12) a terminal cannot send the Cloud9 credentials to any address -------------------------------------
@pytest.mark.parametrize("url", ["https://collector.example.com/restApi", "http://c9pg.com.example.net/restApi",
                                 "http://link.c9pg.com:11911/restApi"])
def test_the_cloud9_api_address_is_restricted_like_stripes(companion: Companion, url: str) -> None:
    settings = {
        "kind": "cloud9",
        "public": {"environment": "test", "api_url": url, "GMID": "1001", "GTID": "GT1"},
        "secrets": {"GMPW": "password"},
    }
    refused = companion.api.put("/api/v1/gateway", json=settings)
    assert refused.status_code == 422 and "not allowed" in refused.text
    allowed = {**settings, "public": {key: v for key, v in settings["public"].items() if key != "api_url"}}
    assert companion.api.put("/api/v1/gateway", json=allowed).status_code == 200
    # Stored some other way (an older version): the connection test refuses before any request.
    with companion.db.write() as session:
        store = session.get(Store, companion.terminal.store_id)
        assert store is not None
        store.gateway_kind, store.gateway_public = "cloud9", settings["public"]
    tested = companion.api.post("/api/v1/gateway/test").json()
    assert tested["ok"] is False and "not allowed" in tested["message"]


# -- money taken at the counter goes through the same ledger ------------------------------------------------
def test_an_in_store_tender_is_recorded_by_the_ledger_once(companion: Companion) -> None:
    from posdesk.companion.payments.ledger import record_in_store_tender
    from posdesk.core.ticket import PaymentMethod

    first = ticket(companion, V1_TOTAL)

    def record(amount: int) -> str:
        with companion.db.write() as session:
            payment = record_in_store_tender(
                session, store_id=companion.terminal.store_id, invoice_id=first["invoice_id"], tender_id="till-1-t1",
                amount=Money(amount, "USD"), tip=Money(0, "USD"), method=PaymentMethod.CASH,
            )
            return payment.id

    paid_id = record(2000)
    assert record(2000) == paid_id  # the POS sent it again: one record
    with pytest.raises(Exception, match="other figures"):
        record(2500)
    [partial] = events(companion, "invoice.partially_paid")
    assert partial["data"]["payment"]["method"] == "cash" and partial["data"]["balance_due"] == V1_TOTAL - 2000
    assert Phone(companion, first["link_token"]).pay(1, APPROVES).status_code == 303  # the rest online
    assert taken(companion, first["invoice_id"]) == V1_TOTAL - 2000
    assert len(events(companion, "invoice.paid")) == 1


# -- (5) a new card choice cancels the attempt waiting for 3-D Secure first ----------------------------------
def test_another_card_while_one_waits_for_3ds_cancels_the_waiting_attempt(companion: Companion) -> None:
    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    approve_first = phone.start_3ds(version=1)
    paid = phone.pay(1, APPROVES)  # the client gives up on the bank's page and uses another card
    assert paid.status_code == 303 and not paid.headers["location"].split("?")[0].endswith("/authenticate")
    waiting, done = payments_of(companion, first["invoice_id"])
    assert waiting.status == "canceled" and done.status == "succeeded"
    phone.post(approve_first, outcome="approve")  # the bank's page, approved late
    assert taken(companion, first["invoice_id"]) == V1_TOTAL
    assert len(events(companion, "invoice.paid")) == 1


# -- (4) an outcome nobody can find is never failed: a manager is told ------------------------------------
def test_an_answer_lost_for_an_hour_is_handed_to_a_manager_never_failed(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posdesk.companion.payments import reconcile

    def lost(self: SimulatorGateway, request: Any) -> Any:
        raise Unavailable("The payment service did not answer")

    first = ticket(companion, V1_TOTAL)
    phone = Phone(companion, first["link_token"])
    with monkeypatch.context() as patch:
        patch.setattr(SimulatorGateway, "charge", lost)  # the create's answer is lost: no attempt id known
        phone.pay(1, APPROVES)
    [payment] = payments_of(companion, first["invoice_id"])
    assert payment.status == "processing" and not payment.gateway_payment_id
    # A real gateway (not one whose books live in memory) that still has no record of it an hour later.
    monkeypatch.setattr(SimulatorGateway, "forgets_on_restart", lambda self: False)
    later = utcnow() + reconcile.ABANDONED_AFTER + timedelta(minutes=1)
    for _ in range(2):  # two passes: the manager is told once
        reconcile.reconcile(companion.db, gateway_directory(companion.app.state), now=later)
    [kept] = payments_of(companion, first["invoice_id"])
    assert kept.status == "processing" and "No card was charged" not in kept.failure_message
    assert events(companion, "payment.failed") == []
    [review] = events(companion, "payment.needs_review")
    assert review["data"]["payment_id"] == payment.id and review["invoice_id"] == first["invoice_id"]
    assert "may have been charged" in review["data"]["reason"]
    # The link still offers no new attempt while the check is open.
    page = companion.client(follow_redirects=False).get(f"/pay/{first['link_token']}")
    assert page.status_code == 303 and 'name="sim_number"' not in page.text


# -- (11) no gateway call runs inside a database write transaction ---------------------------------------
GATEWAY_CALLS = (
    "test_connection", "ensure_customer", "list_methods", "add_method", "remove_method", "set_default_method",
    "charge", "confirm_action", "refund", "lookup", "find_attempt", "cancel_attempt", "verify_and_parse_webhook",
)


class WriteDepth(threading.local):
    """How many write transactions the current thread has open."""

    depth = 0


def watch_gateway_calls(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[str], Callable[[], None]]:
    """Every Simulator call, and those made while the calling thread held a write transaction open."""
    return watch_calls(companion.db.engine, monkeypatch, [(SimulatorGateway, GATEWAY_CALLS)])


def watch_calls(
    engine: sqlalchemy.Engine, monkeypatch: pytest.MonkeyPatch, targets: list[tuple[type, tuple[str, ...]]]
) -> tuple[list[str], list[str], Callable[[], None]]:
    """Every call of the ``targets`` (a class and its methods: a driver's, or the HTTP client it talks to
    its gateway with), and those made while the calling thread held a write transaction open.

    A write transaction is one begun with SQLite's ``BEGIN IMMEDIATE`` (what ``Database.write`` starts);
    the companion runs in this process, so its threads' transactions are seen here.
    """
    writing = WriteDepth()
    calls: list[str] = []
    inside: list[str] = []

    def is_write(connection: Any) -> bool:
        return bool(connection.get_execution_options().get("posdesk_begin") == "BEGIN IMMEDIATE")

    def began(connection: Any) -> None:
        if is_write(connection):
            writing.depth += 1

    def ended(connection: Any) -> None:
        if is_write(connection) and writing.depth:
            writing.depth -= 1

    listeners = (("begin", began), ("commit", ended), ("rollback", ended))
    for name, listener in listeners:
        sqlalchemy.event.listen(engine, name, listener)

    def stop() -> None:
        for name, listener in listeners:
            sqlalchemy.event.remove(engine, name, listener)

    def watched(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            if writing.depth:
                inside.append(f"{name} in a write transaction:\n{''.join(traceback.format_stack(limit=12))}")
            return original(self, *args, **kwargs)

        return call

    for cls, names in targets:
        for name in names:
            monkeypatch.setattr(cls, name, watched(name, getattr(cls, name)))
    return calls, inside, stop


def test_no_gateway_call_runs_inside_a_database_write_transaction(companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    from posdesk.companion.payments import reconcile

    calls, inside, stop = watch_gateway_calls(companion, monkeypatch)
    try:
        with companion.db.write() as session:  # the watch itself can fail
            session.execute(sqlalchemy.select(Store.id)).all()
            simulator(companion).lookup("pi_sim_none")
        assert len(inside) == 1
        inside.clear()

        charged = ticket(companion, V1_TOTAL)  # a charge
        assert Phone(companion, charged["link_token"]).pay(1, APPROVES).status_code == 303
        secured = ticket(companion, V2_TOTAL)  # a 3-D Secure confirm
        phone = Phone(companion, secured["link_token"])
        assert phone.post(phone.start_3ds(version=1), outcome="approve").status_code == 303
        [payment] = payments_of(companion, charged["invoice_id"])  # a refund from the POS
        refund = companion.api.post(f"/api/v1/payments/{payment.id}/refund", json={"amount": 1000})
        assert refund.status_code == 200, refund.text
        reported = ticket(companion, V1_TOTAL)  # a webhook applied
        deliver(companion, simulator_event(companion, reported, ref="pi_sim_webhook_only"))
        assert eventually(lambda: len(events(companion, "invoice.paid")) == 3)
        reconcile.reconcile(companion.db, gateway_directory(companion.app.state), settle_time=timedelta(0))
    finally:
        stop()
    assert {"charge", "confirm_action", "refund", "verify_and_parse_webhook"} <= set(calls)
    assert inside == [], "\n\n".join(inside)
