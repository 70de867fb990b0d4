"""The Stripe driver: PaymentIntents through ``stripe.StripeClient`` (stripe-python 16, ``client.v1.*``).

Two ways a card is charged:

* **New card, confirmed on the page.** The page's Payment Element works with a deferred intent; when
  the client presses Pay the companion calls :meth:`StripeGateway.prepare_payment` (an unconfirmed
  intent for the amount *it* computed, tip in the metadata, ``setup_future_usage`` only when the client
  asked to save the card) and hands the client secret to the page, which confirms with Stripe.js.
* **Saved card ("Use") and the tip afterwards, confirmed here** (:meth:`StripeGateway.charge`): the
  intent is created unconfirmed, its amount checked against the request, then confirmed; the tip
  afterwards is off-session on the same card. ``requires_action`` goes back to the page, which runs
  ``stripe.handleNextAction`` and then asks :meth:`StripeGateway.confirm_action` for the outcome.

Every POST carries an idempotency key derived from the companion's key, which already names the invoice,
its version and the attempt; the tip is added so a changed tip can never replay another amount.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any, cast

import stripe
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentConfirmParams,
    PaymentIntentCreateParams,
    SetupIntentCreateParams,
)

from posdesk.core.money import Money
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
    MethodSaved,
    Misconfigured,
    NewCard,
    NotTaken,
    PageAttempt,
    PageIntegration,
    RefundUpdate,
    SavedMethod,
    Unavailable,
    checked_api_address,
    header_value,
)
from posdesk.gateways.stripe import events, objects
from posdesk.gateways.stripe.errors import GONE_CARD_MESSAGE, stripe_errors

log = logging.getLogger(__name__)

STRIPE_API = "https://api.stripe.com"
BASE_ENV = "POSDESK_STRIPE_API_BASE"
SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_RETRIES = 2  # safe: every POST carries an idempotency key
RETRY_DELAY_MAX = 5.0  # stripe-python's longest sleep between two attempts (HTTPClient.MAX_DELAY)
TIMEOUT_SECONDS = 20.0  # a client waits on the page; Stripe's own default is 80 s
SCRIPT_ORIGIN = "https://js.stripe.com"
FRAME_ORIGINS = ("https://js.stripe.com", "https://hooks.stripe.com")
CONNECT_ORIGIN = "https://api.stripe.com"
# Card payments only, never a redirect to a bank page: the page stays the page. Payment and setup intents
# name the card outright (``allowed_payment_method_types``, API 2026-07-29+; the older
# ``payment_method_types`` is gone on the pinned version), so nothing switched on in the Dashboard is
# offered; the page's element asks for cards only too (``paymentMethodTypes``).
CARD_ONLY = ["card"]
REFUND_KEY = "posdesk_refund"  # a refund's metadata: the idempotency key it was asked under
EXPAND = ["payment_method"]
CONFIRMABLE_HERE = ("requires_payment_method", "requires_confirmation")
UNAVAILABLE_NOT_CHARGED = "The payment service did not answer. You were not charged; please try again."
CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
NEEDS_JS_MESSAGE = (
    "Enter your card in the card form. If you see no card form, please enable JavaScript and reload."
)


def api_base(public: Mapping[str, Any], operator_base: str = "") -> str:
    """Where the Stripe API is: the operator's (``POSDESK_STRIPE_API_BASE``, handed in by the companion),
    else the store's setting, else Stripe.

    A store's setting may only name Stripe itself or this machine (a local Stripe mock): the secret key
    travels with every call, so a terminal must not be able to send it to another host.
    """
    if operator_base.strip():
        return operator_base.strip().rstrip("/")
    asked = str(public.get("stripe_api_base") or "").strip().rstrip("/")
    if not asked:
        return STRIPE_API
    return checked_api_address(asked, "Stripe", "stripe.com", BASE_ENV)


class StripeGateway:
    """One store's Stripe account (see the module docstring)."""

    kind = "stripe"

    def __init__(
        self,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        *,
        base: str = STRIPE_API,
        max_network_retries: int = DEFAULT_RETRIES,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._publishable_key = publishable_key
        self._webhook_secret = webhook_secret
        self._retries, self._timeout = max_network_retries, timeout
        self.base = base
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # -- connection ---------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        """``GET /v1/account``: the account's name, or why it failed (a refused key raises Misconfigured)."""
        try:
            with stripe_errors():
                account = self.client.v1.accounts.retrieve_current()
        except Unavailable as exc:
            return ConnectionCheck(False, exc.message)
        settings = objects._get(objects._get(account, "settings", {}), "dashboard", {})
        name = objects._get(settings, "display_name") or objects._get(
            objects._get(account, "business_profile", {}), "name"
        )
        name = name or objects._get(account, "email") or objects._get(account, "id", "")
        mode = "live" if objects._get(account, "livemode", False) else "test"
        return ConnectionCheck(True, f"Connected to Stripe account {name} ({mode} mode)")

    # -- customers and saved cards --------------------------------------------------------------------
    def ensure_customer(self, client: ClientInfo, existing_ref: str | None = None) -> str:
        if existing_ref:
            return existing_ref
        params: dict[str, Any] = {"name": client.name[:250], "metadata": {"client_id": client.id}}
        if client.email:
            params["email"] = client.email[:250]
        if client.phone:
            params["phone"] = client.phone[:20]
        with stripe_errors():
            customer = self.client.v1.customers.create(
                cast(CustomerCreateParams, params), {"idempotency_key": f"posdesk-customer-{client.id}"}
            )
        return str(customer.id)

    def _default_method(self, customer_ref: str) -> str | None:
        with stripe_errors():
            customer = self.client.v1.customers.retrieve(customer_ref)
        default = objects._get(objects._get(customer, "invoice_settings", {}), "default_payment_method")
        return objects._id(default) if default else None

    def list_methods(self, customer_ref: str) -> list[SavedMethod]:
        """The customer's cards as Stripe has them now, the customer's default marked."""
        default = self._default_method(customer_ref)
        with stripe_errors():
            listed = self.client.v1.payment_methods.list(
                {"customer": customer_ref, "type": "card", "limit": 100}
            )
        return [objects.saved_method_of(method, default) for method in listed.data]

    def add_method(self, customer_ref: str, card: NewCard) -> SavedMethod:
        with stripe_errors():
            method = self.client.v1.payment_methods.attach(card.token, {"customer": customer_ref})
        return objects.saved_method_of(method, self._default_method(customer_ref))

    def remove_method(self, customer_ref: str, method_ref: str) -> None:
        try:
            with stripe_errors():
                method = self.client.v1.payment_methods.retrieve(method_ref)
                if objects._id(objects._get(method, "customer", "")) == customer_ref:
                    self.client.v1.payment_methods.detach(method_ref)
        except GatewayError as exc:
            if "No such PaymentMethod" not in exc.message:
                raise  # already gone at Stripe: removing it here too is what the client asked

    def set_default_method(self, customer_ref: str, method_ref: str) -> None:
        with stripe_errors():
            self.client.v1.customers.update(
                customer_ref, {"invoice_settings": {"default_payment_method": method_ref}}
            )

    # -- the page -------------------------------------------------------------------------------------
    def page_integration(self) -> PageIntegration:
        return PageIntegration(
            partial="stripe_card.html",
            script_origins=(SCRIPT_ORIGIN,),
            frame_origins=FRAME_ORIGINS,
            connect_origins=(CONNECT_ORIGIN,),
            client_config={"publishable_key": self._publishable_key},
        )

    def read_new_card(self, fields: Mapping[str, str]) -> NewCard:
        """A card the page already made into a PaymentMethod (``gw_payment_method``); a new card is
        normally confirmed on the page instead (:meth:`prepare_payment`)."""
        method = fields.get("gw_payment_method", "")
        if not (method.startswith("pm_") and method.isascii() and len(method) <= 100):
            raise Declined(NEEDS_JS_MESSAGE)
        return NewCard(token=method)

    # -- money ---------------------------------------------------------------------------------------
    @staticmethod
    def stripe_key(companion_key: str, params: Mapping[str, Any], step: str = "") -> str:
        """The Stripe idempotency key: the companion's (invoice, version, attempt) plus a digest of every
        parameter sent, so one key never carries other parameters (Stripe answers that with a 400)."""
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
        return f"posdesk:{companion_key}:{step + ':' if step else ''}{digest}"

    @staticmethod
    def _metadata(request: ChargeRequest) -> dict[str, str]:
        metadata = {str(k)[:40]: str(v)[:500] for k, v in request.metadata.items()}
        metadata["tip"] = str(request.tip.minor)
        if request.save_card:
            metadata[objects.SAVE_FLAG] = "1"
        return metadata

    def _intent_params(self, request: ChargeRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "amount": objects.stripe_amount(request.total),
            "currency": request.total.currency.lower(),
            "allowed_payment_method_types": CARD_ONLY,
            "metadata": self._metadata(request),
        }
        if request.description:
            params["description"] = request.description[:500]
        if request.customer_ref:
            params["customer"] = request.customer_ref
        if request.save_card:
            params["setup_future_usage"] = "off_session"
        return params

    def prepare_payment(self, request: ChargeRequest) -> PageAttempt:
        """An unconfirmed PaymentIntent for the page to confirm with the Payment Element.

        The same request (same key) answers the same intent. ``request.new_card``/``method_ref`` are
        placeholders here: the card is in the page's element, never on this server.
        """
        params = self._intent_params(request)
        with stripe_errors():
            intent = self.client.v1.payment_intents.create(
                cast(PaymentIntentCreateParams, params),
                {"idempotency_key": self.stripe_key(request.idempotency_key, params)},
            )
        state = objects.intent_state(intent)
        self._check_amount(state, request.total)
        return state

    def reprice(self, payment_ref: str, total: Money) -> PageAttempt:
        """Set an unconfirmed intent's amount to what the companion computes now."""
        with stripe_errors():
            intent = self.client.v1.payment_intents.update(payment_ref, {"amount": objects.stripe_amount(total)})
        return objects.intent_state(intent)

    def cancel(self, payment_ref: str) -> PageAttempt:
        """Cancel an intent nobody confirmed (the client changed the tip, or the invoice changed)."""
        with stripe_errors():
            intent = self.client.v1.payment_intents.cancel(payment_ref, {"cancellation_reason": "abandoned"})
        return objects.intent_state(intent)

    @staticmethod
    def _check_amount(state: PageAttempt, total: Money) -> None:
        if (state.amount_minor, state.currency) != (total.minor, total.currency):
            raise GatewayError(
                f"The payment at Stripe is for {state.amount_minor} {state.currency}, not {total.minor} {total.currency}"
            )

    def _customer_of_method(self, method_ref: str) -> str | None:
        try:
            with stripe_errors():
                method = self.client.v1.payment_methods.retrieve(method_ref)
        except GatewayError as exc:
            if "No such PaymentMethod" in exc.message:  # removed at Stripe (dashboard, another app)
                raise Declined(GONE_CARD_MESSAGE) from None
            raise
        customer = objects._id(objects._get(method, "customer", ""))
        return customer or None

    def charge(self, request: ChargeRequest) -> GatewayPayment:
        """Charge a saved card (or a PaymentMethod made on the page) here, on the server.

        The intent is created unconfirmed, its amount re-checked against ``request`` (an idempotent
        replay must not confirm another amount), then confirmed. A tip after payment (``metadata
        kind=tip``) is confirmed on-session too: the client is on the confirmation page, so a bank that
        asks for 3-D Secure gets it there (``requires_action`` goes back to the page).

        A confirm whose answer is lost is looked up by the intent's own id (never Stripe's Search, which
        lags writes): charged, it is the answer; not charged, the intent is cancelled so it never can be,
        and :class:`NotTaken` says so; Stripe unreachable, :class:`Unavailable` names the intent.
        """
        method_ref = request.method_ref or (request.new_card.token if request.new_card else "")
        customer = request.customer_ref or (
            self._customer_of_method(method_ref) if request.method_ref else None
        )
        params = self._intent_params(request)
        if customer:
            params["customer"] = customer
        key = self.stripe_key(request.idempotency_key, params)
        with stripe_errors():
            intent = self.client.v1.payment_intents.create(
                cast(PaymentIntentCreateParams, params), {"idempotency_key": key}
            )
        state = objects.intent_state(intent)
        if state.payment is not None or state.status not in CONFIRMABLE_HERE:
            return self._answer(state)  # an earlier try of this key already confirmed it
        self._check_amount(state, request.total)
        confirm: dict[str, Any] = {"payment_method": method_ref, "expand": EXPAND}
        try:
            with stripe_errors():
                try:
                    intent = self.client.v1.payment_intents.confirm(
                        state.ref,
                        cast(PaymentIntentConfirmParams, confirm),
                        {"idempotency_key": self.stripe_key(key, confirm, "confirm")},
                    )
                except stripe.CardError as exc:
                    intent = self._intent_after_decline(exc, state.ref)
        except Unavailable as exc:
            return self._after_lost_confirm(state.ref, exc)
        return self._answer(objects.intent_state(intent))

    def _after_lost_confirm(self, ref: str, lost: Unavailable) -> GatewayPayment:
        """The confirm's answer was lost or refused with a 5xx: ask for the intent by its id."""
        try:
            state = self.intent(ref)
            if state.payment is None and state.status in CONFIRMABLE_HERE:
                self.cancel(ref)  # not charged: now it never can be, so the attempt is over
                raise NotTaken(UNAVAILABLE_NOT_CHARGED)
        except (Unavailable, NotTaken):
            raise
        except GatewayError:
            raise Unavailable(lost.message, payment_ref=ref) from None
        except Exception:
            raise Unavailable(lost.message, payment_ref=ref) from None
        return self._answer(state)

    def _intent_after_decline(self, exc: stripe.CardError, ref: str) -> Any:
        """A decline answers 402 with the intent inside the error; read it (or fetch it) to report FAILED."""
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        intent = (body.get("error") or {}).get("payment_intent")
        if intent:
            return intent
        return self.client.v1.payment_intents.retrieve(ref, {"expand": EXPAND})

    @staticmethod
    def _answer(state: PageAttempt) -> GatewayPayment:
        if state.payment is None:
            raise GatewayError("Stripe did not take this payment; please try again")
        return state.payment

    def intent(self, payment_ref: str) -> PageAttempt:
        """The intent as Stripe has it now, with its card."""
        with stripe_errors():
            intent = self.client.v1.payment_intents.retrieve(payment_ref, {"expand": EXPAND})
        return objects.intent_state(intent)

    def sync(self, payment_ref: str) -> PageAttempt:
        """The attempt as Stripe has it now (retrieved by its own id, never searched)."""
        return self.intent(payment_ref)

    def cancel_attempt(self, payment_ref: str) -> GatewayPayment | None:
        """Cancel an intent that has not taken money (waiting for the page or for 3-D Secure)."""
        state = self.intent(payment_ref)
        if state.status in CANCELABLE:
            try:
                state = self.cancel(payment_ref)
            except GatewayError:
                state = self.intent(payment_ref)  # it moved meanwhile: say where it stands
        if state.cancelled or state.payment is None:
            return None
        return state.payment

    def lists_cards_at_gateway(self) -> bool:
        return True  # cards are attached and detached at Stripe by other software too

    def find_attempt(self, keys: AttemptKeys) -> GatewayPayment | None:
        """An intent by its id, else by the ``payment_id`` posdesk put in its metadata (Stripe's Search)."""
        return self.lookup(keys.gateway_ref or None, metadata={"payment_id": keys.payment_id})

    def confirm_action(self, payment_ref: str, fields: Mapping[str, str]) -> GatewayPayment:
        """After ``handleNextAction`` on the page: the payment's state at Stripe (never the page's word)."""
        state = self.intent(payment_ref)
        if state.payment is None:
            return GatewayPayment(
                ref=state.ref,
                status=ChargeStatus.FAILED,
                amount=Money(state.amount_minor - objects.tip_of(state.metadata), state.currency),
                tip=Money(objects.tip_of(state.metadata), state.currency),
                metadata=state.metadata,
                message="The payment was not completed",
            )
        return state.payment

    def refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund:
        with stripe_errors():
            refund = self.client.v1.refunds.create(
                {
                    "payment_intent": payment_ref,
                    "amount": objects.stripe_amount(amount),
                    "reason": "requested_by_customer",
                    "metadata": {REFUND_KEY: idempotency_key},
                },
                {"idempotency_key": f"posdesk:{idempotency_key}"},
            )
        status = str(objects._get(refund, "status", ""))
        if status in ("failed", "canceled"):
            raise Declined(f"Stripe could not refund this payment ({status})")
        currency = str(objects._get(refund, "currency", amount.currency)).upper()
        return GatewayRefund(
            str(refund.id),
            payment_ref,
            objects.money_from_stripe(int(objects._get(refund, "amount", 0)), currency),
            status == "succeeded",
        )

    def refund_time_bound(self) -> float:
        """One request (a refund, or the refunds list that finds one) with every retry the client makes:
        each attempt's timeout plus the client's back-off between attempts (at most RETRY_DELAY_MAX each)."""
        return (self._retries + 1) * self._timeout + self._retries * RETRY_DELAY_MAX

    def find_refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund | None:
        """The intent's refund posdesk asked under ``idempotency_key`` (its metadata says), with the
        intent's refunded total (every refund that did not fail, made anywhere)."""
        with stripe_errors():
            listed = self.client.v1.refunds.list({"payment_intent": payment_ref, "limit": 100})
        refunds = [r for r in listed.data if str(objects._get(r, "status", "")) not in ("failed", "canceled")]
        mine = [r for r in refunds if objects.metadata_of(r).get(REFUND_KEY) == idempotency_key]
        if not mine:
            return None
        currency = str(objects._get(mine[0], "currency", amount.currency)).upper()
        total = sum(int(objects._get(r, "amount", 0)) for r in refunds)
        return GatewayRefund(
            str(mine[0].id),
            payment_ref,
            objects.money_from_stripe(int(objects._get(mine[0], "amount", 0)), currency),
            str(objects._get(mine[0], "status", "")) == "succeeded",
            objects.money_from_stripe(total, currency),
        )

    def lookup(
        self, payment_ref: str | None = None, *, metadata: Mapping[str, str] | None = None
    ) -> GatewayPayment | None:
        """A payment by intent id, or by posdesk's metadata (a crash between charge and commit).

        An intent nobody confirmed, or a canceled one, is no payment: None.
        """
        if payment_ref is not None:
            return self.intent(payment_ref).payment
        states = self.search(metadata or {})
        found = [s.payment for s in states if s.payment is not None]
        succeeded = [p for p in found if p.status is ChargeStatus.SUCCEEDED]
        return next(iter(succeeded or found), None)

    def search(self, metadata: Mapping[str, str]) -> list[PageAttempt]:
        """Intents whose metadata has all of ``metadata`` (Stripe's search; newest first)."""
        if not metadata:
            return []
        query = " AND ".join(f"metadata['{_quote(k)}']:'{_quote(v)}'" for k, v in sorted(metadata.items()))
        with stripe_errors():
            result = self.client.v1.payment_intents.search(
                {"query": query, "limit": 20, "expand": ["data.payment_method"]}
            )
        return [objects.intent_state(intent) for intent in result.data]

    # -- saving a card without paying ---------------------------------------------------------------
    def prepare_setup(
        self, customer_ref: str, metadata: Mapping[str, str], idempotency_key: str
    ) -> tuple[str, str]:
        """A SetupIntent for the page's ``confirmSetup``: ``(setup id, client secret)``."""
        with stripe_errors():
            setup = self.client.v1.setup_intents.create(
                cast(
                    SetupIntentCreateParams,
                    {
                        "customer": customer_ref,
                        "usage": "off_session",
                        "allowed_payment_method_types": CARD_ONLY,
                        "metadata": {str(k)[:40]: str(v)[:500] for k, v in metadata.items()},
                    },
                ),
                {"idempotency_key": f"posdesk:{idempotency_key}"},
            )
        return str(setup.id), str(objects._get(setup, "client_secret", ""))

    def setup_result(self, setup_ref: str) -> MethodSaved | None:
        with stripe_errors():
            setup = self.client.v1.setup_intents.retrieve(setup_ref)
        return objects.setup_of_intent(setup)

    def saved_method(self, customer_ref: str, method_ref: str) -> SavedMethod | None:
        return next((m for m in self.list_methods(customer_ref) if m.ref == method_ref), None)

    # -- webhooks ---------------------------------------------------------------------------------------
    def verify_and_parse_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """``stripe.Webhook.construct_event`` over the raw bytes, then the event as posdesk reads it.

        Read as sent, with no call to Stripe (the event is stored and answered before anything else
        happens): the dispatch table (:mod:`.events`) gives its variant. ``payment_intent.succeeded``
        names the card by id only; ``charge.succeeded`` carries its details, and the companion waits a
        moment for it before closing the ticket without them.
        """
        header = header_value(headers, SIGNATURE_HEADER)
        if not self._webhook_secret:
            raise BadSignature("no Stripe webhook signing secret is configured")
        try:
            stripe.Webhook.construct_event(raw_body, header, self._webhook_secret)
            body = json.loads(raw_body)
            event_id, event_type = body["id"], body["type"]
            obj = body["data"]["object"]
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(f"Stripe signature did not verify: {exc.user_message or exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadSignature(f"the event body is malformed: {exc}") from None
        if not isinstance(event_id, str) or not isinstance(event_type, str) or not 0 < len(event_id) <= 100:
            raise BadSignature("the event has no usable id or type")
        variant = events.read(event_type, obj)
        return GatewayEvent(event_id=event_id, type=event_type[:60], payload=body, payment=variant.pop("payment", None), **variant)


def refund_of(event: GatewayEvent) -> RefundUpdate | None:
    """``charge.refunded``: the refunded total of the payment."""
    return event.refund


def canceled_of(event: GatewayEvent) -> str | None:
    """``payment_intent.canceled``: the intent's id (posdesk's intents only)."""
    return event.cancelled.payment_ref if event.cancelled else None


def setup_of(event: GatewayEvent) -> MethodSaved | None:
    """``setup_intent.succeeded``: a card saved without paying."""
    return event.method_saved


def _quote(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("'", "\\'")


def check_public(public: Mapping[str, Any]) -> None:
    """Refuse public settings this driver would refuse to use (a settings form's check)."""
    api_base(public)


def build(public: Mapping[str, Any], secrets: Mapping[str, Any], **ctx: Any) -> StripeGateway:
    """Driver entry point (see :func:`posdesk.gateways.build_gateway`).

    Public: ``publishable_key`` (pk_...), optional ``stripe_api_base`` and ``max_network_retries``.
    Secrets: ``secret_key`` (sk_... or rk_...) and ``webhook_secret`` (whsec_...).
    ``ctx["stripe_api_base"]``: the operator's API address, which wins over the store's.
    """
    secret_key = str(secrets.get("secret_key") or "")
    publishable_key = str(public.get("publishable_key") or "")
    if not secret_key.startswith(("sk_", "rk_")):
        raise Misconfigured("Stripe needs its secret key (it starts with sk_ or rk_) in Settings > Payments")
    if not publishable_key.startswith("pk_"):
        raise Misconfigured("Stripe needs its publishable key (it starts with pk_) in Settings > Payments")
    if secret_key.split("_")[1:2] != publishable_key.split("_")[1:2]:
        raise Misconfigured("The Stripe secret and publishable keys are from different modes (test and live)")
    retries_text = str(public.get("max_network_retries", DEFAULT_RETRIES))
    retries = int(retries_text) if retries_text.isdigit() else DEFAULT_RETRIES
    return StripeGateway(
        secret_key,
        publishable_key,
        str(secrets.get("webhook_secret") or ""),
        base=api_base(public, str(ctx.get("stripe_api_base") or "")),
        max_network_retries=min(retries, 5),
    )
