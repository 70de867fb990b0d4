"""The Simulator gateway: a pretend card processor for training, demos and tests.

It behaves like a real gateway where the companion can tell: cards are tokenised before a charge,
charges are idempotent by key, test numbers approve, decline or ask for 3-D Secure, saved cards belong
to a customer, and every outcome is also reported as a **signed webhook** delivered to the companion's
webhook pipeline (the same verification, storage and forward-only application real gateways get).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from posdesk.core.money import Money
from posdesk.gateways import signing
from posdesk.gateways.base import (
    AttemptKeys,
    BadSignature,
    ChargeRequest,
    ChargeStatus,
    ClientInfo,
    ConnectionCheck,
    Declined,
    GatewayError,
    GatewayEvent,
    GatewayPayment,
    GatewayRefund,
    Misconfigured,
    NewCard,
    PageIntegration,
    SavedMethod,
    header_value,
    payment_from_wire,
    payment_to_wire,
)
from posdesk.gateways.simulator.cards import DECLINED_MESSAGE, Behaviour, read_card
from posdesk.gateways.simulator.ledger import SimCard, SimulatorLedger, new_ref

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Posdesk-Simulator-Signature"
WebhookSink = Callable[[bytes, Mapping[str, str]], None]
AUTH_FAILED_MESSAGE = "Your bank could not verify this payment"


class SimulatorGateway:
    """See the module docstring. ``webhook_sink(raw_body, headers)`` receives every signed event."""

    kind = "simulator"

    def __init__(self, webhook_secret: str, ledger: SimulatorLedger | None = None, webhook_sink: WebhookSink | None = None) -> None:
        self._secret = webhook_secret
        self.ledger = ledger or SimulatorLedger()
        self._sink = webhook_sink

    # -- connection ---------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        if not self._secret:
            return ConnectionCheck(False, "The simulator has no webhook secret")
        return ConnectionCheck(True, "Simulator ready: payments are simulated, no card is charged")

    # -- customers and saved cards ---------------------------------------------------------------------
    def ensure_customer(self, client: ClientInfo, existing_ref: str | None = None) -> str:
        ref = existing_ref or new_ref("cus_sim")
        self.ledger.customer(ref, client)
        return ref

    def _customer(self, customer_ref: str) -> Any:
        customer = self.ledger.customer(customer_ref, ClientInfo(id="", name=""))
        assert customer is not None
        return customer

    def list_methods(self, customer_ref: str) -> list[SavedMethod]:
        with self.ledger.lock:
            customer = self._customer(customer_ref)
            return [self._saved(self.ledger.cards[ref], customer.default_method) for ref in customer.methods]

    def add_method(self, customer_ref: str, card: NewCard) -> SavedMethod:
        with self.ledger.lock:
            sim = self.ledger.card(card.token)
            if sim is None:
                raise Declined("This card could not be found; enter it again")
            customer = self._customer(customer_ref)
            sim.customer_ref = customer_ref
            if sim.ref not in customer.methods:
                customer.methods.append(sim.ref)
            if customer.default_method is None:
                customer.default_method = sim.ref
            return self._saved(sim, customer.default_method)

    def remove_method(self, customer_ref: str, method_ref: str) -> None:
        with self.ledger.lock:
            customer = self._customer(customer_ref)
            if method_ref in customer.methods:
                customer.methods.remove(method_ref)
            if customer.default_method == method_ref:
                customer.default_method = customer.methods[0] if customer.methods else None

    def set_default_method(self, customer_ref: str, method_ref: str) -> None:
        with self.ledger.lock:
            customer = self._customer(customer_ref)
            if self.ledger.card(method_ref) is None:
                raise Declined("This card could not be found")
            if method_ref not in customer.methods:
                customer.methods.append(method_ref)
            customer.default_method = method_ref

    @staticmethod
    def _saved(sim: SimCard, default_ref: str | None) -> SavedMethod:
        card = sim.card
        return SavedMethod(sim.ref, card.brand, card.last4, card.exp_month, card.exp_year, sim.ref == default_ref)

    # -- the page ----------------------------------------------------------------------------------------
    def page_integration(self) -> PageIntegration:
        return PageIntegration(partial="simulator_card.html", simulated=True)

    def read_new_card(self, fields: Mapping[str, str]) -> NewCard:
        card = read_card(fields.get("sim_number", ""), fields.get("sim_exp", ""), fields.get("sim_cvc", ""))
        sim = self.ledger.add_card(card)
        return NewCard(token=sim.ref, brand=card.brand, last4=card.last4)

    # -- money ------------------------------------------------------------------------------------------
    def charge(self, request: ChargeRequest) -> GatewayPayment:
        with self.ledger.lock:
            earlier = self.ledger.idempotency.get(request.idempotency_key)
            if earlier is not None:
                first_request, ref = earlier
                if (first_request.amount, first_request.tip) != (request.amount, request.tip):
                    raise GatewayError("This idempotency key was used for a different amount")
                return self.ledger.payments[ref]
            method_ref = request.method_ref or (request.new_card.token if request.new_card else "")
            sim = self.ledger.card(method_ref)
            if sim is None:
                raise Declined("This card could not be found; enter it again")
            saved = None
            if request.save_card and request.customer_ref:
                saved = self.add_method(request.customer_ref, NewCard(sim.ref))
            ref = new_ref("pi_sim")
            behaviour = sim.card.behaviour
            if behaviour is Behaviour.DECLINE:
                status, message = ChargeStatus.FAILED, DECLINED_MESSAGE
            elif behaviour is Behaviour.THREE_D_SECURE and not sim.authenticated:
                status, message = ChargeStatus.REQUIRES_ACTION, ""
            else:
                status, message = ChargeStatus.SUCCEEDED, ""
            payment = self.ledger.record(
                request.payment(
                    ref,
                    status,
                    card_brand=sim.card.brand,
                    card_last4=sim.card.last4,
                    method_ref=sim.ref,
                    saved_method=saved,
                    message=message,
                    action={"type": "three_d_secure", "payment_ref": ref} if status is ChargeStatus.REQUIRES_ACTION else {},
                )
            )
            self.ledger.idempotency[request.idempotency_key] = (request, ref)
        self._send(payment)
        return payment

    def confirm_action(self, payment_ref: str, fields: Mapping[str, str]) -> GatewayPayment:
        with self.ledger.lock:
            payment = self.ledger.payments.get(payment_ref)
            if payment is None:
                raise Declined("This payment could not be found")
            if payment.status is not ChargeStatus.REQUIRES_ACTION:
                return payment
            if fields.get("outcome") == "approve":
                sim = self.ledger.card(payment.method_ref)
                if sim is not None:
                    sim.authenticated = True
                payment = self.ledger.update(payment_ref, status=ChargeStatus.SUCCEEDED, action={})
            else:
                payment = self.ledger.update(payment_ref, status=ChargeStatus.FAILED, action={}, message=AUTH_FAILED_MESSAGE)
        self._send(payment)
        return payment

    def refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund:
        with self.ledger.lock:
            earlier = self.ledger.refund_keys.get(idempotency_key)
            if earlier is not None:
                if earlier[:2] != (payment_ref, amount):
                    raise GatewayError("This idempotency key was used for a different refund")
                return earlier[2]
            payment = self.ledger.payments.get(payment_ref)
            if payment is None or payment.status not in (ChargeStatus.SUCCEEDED, ChargeStatus.REFUNDED):
                raise Declined("Only a successful payment can be refunded")
            already = self.ledger.refunded.get(payment_ref, 0)
            if not 0 < amount.minor <= payment.amount.minor + payment.tip.minor - already:
                raise Declined("The refund is more than what is left of the payment")
            self.ledger.refunded[payment_ref] = already + amount.minor
            if already + amount.minor == payment.amount.minor + payment.tip.minor:
                payment = self.ledger.update(payment_ref, status=ChargeStatus.REFUNDED)
            refund = GatewayRefund(
                new_ref("re_sim"), payment_ref, amount, True, Money(already + amount.minor, amount.currency)
            )
            self.ledger.refund_keys[idempotency_key] = (payment_ref, amount, refund)
        self._send(payment, event_type="payment.refunded")
        return refund

    def find_refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund | None:
        with self.ledger.lock:
            earlier = self.ledger.refund_keys.get(idempotency_key)
            if earlier is None or earlier[0] != payment_ref:
                return None
            refund = earlier[2]
            total = Money(self.ledger.refunded.get(payment_ref, 0), refund.amount.currency)
            return GatewayRefund(refund.ref, payment_ref, refund.amount, refund.succeeded, total)

    def lookup(self, payment_ref: str | None = None, *, metadata: Mapping[str, str] | None = None) -> GatewayPayment | None:
        with self.ledger.lock:
            if payment_ref is not None:
                return self.ledger.payments.get(payment_ref)
            wanted = dict(metadata or {})
            matches = [p for p in self.ledger.payments.values() if wanted.items() <= dict(p.metadata).items()]
            succeeded = [p for p in matches if p.status is ChargeStatus.SUCCEEDED]
            found = succeeded or matches
            return found[-1] if found else None

    def find_attempt(self, keys: AttemptKeys) -> GatewayPayment | None:
        return self.lookup(keys.gateway_ref or None, metadata={"payment_id": keys.payment_id})

    def cancel_attempt(self, payment_ref: str) -> GatewayPayment | None:
        with self.ledger.lock:
            payment = self.ledger.payments.get(payment_ref)
            if payment is None:
                return None
            if payment.status is not ChargeStatus.REQUIRES_ACTION:
                return payment
            payment = self.ledger.update(payment_ref, status=ChargeStatus.CANCELED, action={}, message="")
        self._send(payment)
        return None

    def forgets_on_restart(self) -> bool:
        return True  # the ledger lives in the companion's memory

    # -- webhooks ---------------------------------------------------------------------------------------
    def event_body(self, payment: GatewayPayment, event_type: str | None = None) -> bytes:
        """The JSON body of the webhook reporting ``payment``'s current state."""
        body = {
            "id": new_ref("evt_sim"),
            "type": event_type or f"payment.{payment.status.value}",
            "created": int(time.time()),
            "data": {"object": payment_to_wire(payment)},
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def signed_headers(self, raw_body: bytes, timestamp: int | None = None) -> dict[str, str]:
        return {SIGNATURE_HEADER: signing.sign(self._secret, raw_body, timestamp), "Content-Type": "application/json"}

    def _send(self, payment: GatewayPayment, event_type: str | None = None) -> None:
        if self._sink is None:
            return
        raw = self.event_body(payment, event_type)
        try:
            self._sink(raw, self.signed_headers(raw))
        except Exception:  # a real gateway retries later; the charge's own answer still arrives
            log.exception("simulator: webhook delivery failed")

    def verify_and_parse_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        header = header_value(headers, SIGNATURE_HEADER)
        signing.verify(self._secret, raw_body, header)
        try:
            body = json.loads(raw_body)
            event_id, event_type = body["id"], body["type"]
            if not isinstance(event_id, str) or not isinstance(event_type, str) or not 0 < len(event_id) <= 100:
                raise ValueError("bad id or type")
            obj = body.get("data", {}).get("object")
            payment = payment_from_wire(obj) if obj is not None else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadSignature(f"the event body is malformed: {exc}") from None
        return GatewayEvent(event_id=event_id, type=event_type[:60], payment=payment, payload=body)


def build(public: Mapping[str, Any], secrets: Mapping[str, Any], **ctx: Any) -> SimulatorGateway:
    """Driver entry point (see :func:`posdesk.gateways.build_gateway`)."""
    secret = secrets.get("webhook_secret") or ""
    if not secret:
        raise Misconfigured("the simulator needs a webhook secret")
    return SimulatorGateway(secret, ledger=ctx.get("ledger"), webhook_sink=ctx.get("webhook_sink"))
