"""The Cloud9 gateway driver: card tokens from the hosted iframe, ``Sale`` by token, never twice.

**Charging.** A charge is one ``Sale`` with the card token, ``MainAmt`` and ``TipAmt`` as the companion
computed them, the invoice's ``InvoiceNum``, ``CheckDuplicate=Y`` and a ``NewGTRC`` derived from the
charge's idempotency key. Because the GTRC is ours and fixed per attempt, a Sale whose answer was lost
can be looked up (``GetTransInfo`` by GTRC, then by ``InvoiceNum``) and, only when Cloud9 confirms it
has no record, sent once more with the *same* GTRC -- Cloud9 treats a known ``NewGTRC`` as "what
happened to this one?", so even that retry cannot charge twice. When not even the lookup gets an answer
the payment is reported ``PROCESSING`` (unknown), never "failed": a client told "not charged" would pay
again.

**No webhooks.** Cloud9 signs nothing and pushes no payment events, so the companion's own result of the
charge (this driver's answer) is what it applies, through the same forward-only path as other gateways.

**Secrets.** GMID, GTID and GMPW stay in the companion. GMPW only enters a request body and the iframe's
``Seed`` hash; it is never in a page, a log line or a ``repr``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from posdesk.core.currencies import CLOUD9, UnchargeableAmount, to_gateway_minor
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
    Misconfigured,
    NewCard,
    NotTaken,
    PageIntegration,
    SavedMethod,
    Unavailable,
    checked_api_address,
)
from posdesk.gateways.cloud9 import codes
from posdesk.gateways.cloud9.client import (
    DEFAULT_TIMEOUT,
    LIVE_API_URL,
    TEST_API_URL,
    CallFailed,
    Cloud9Client,
    Credentials,
    LostAnswer,
    NotSent,
)
from posdesk.gateways.cloud9.codes import Kind
from posdesk.gateways.cloud9.iframe import LIVE_FRAME_URL, SEED_VALIDITY, TEST_FRAME_URL, card_form

log = logging.getLogger(__name__)

_GTRC_NAMESPACE = uuid.UUID("6f1d7f2e-5c1b-4a5e-9d0c-2b9f6c1e9a40")
_TOKEN = re.compile(r"^[0-9A-F]{32}$")
PROBE_TOKEN = "0" * 32  # a token no merchant has: Test connection asks about it, harmlessly
INVOICE_NUM_LENGTH = 20  # processors keep invoice numbers short; 20 hex digits of an id stay unique
BRANDS = {
    "visa": "visa",
    "mastercard": "mastercard",
    "americanexpress": "amex",
    "amex": "amex",
    "discover": "discover",
}
ENTER_CARD = "Enter your card details in the card form and press Submit, then pay."
CARD_UNREADABLE = "We could not read this card. Please enter it again."
NOT_CONFIRMED = "We could not confirm your payment yet. Please do not pay again; this page will update."
NO_ANSWER = "Cloud9 did not answer. Please try again in a moment."  # refunds and lookups: nothing was charged
REFUND_CALLS = 9  # the most calls one refund makes (see refund_time_bound)


class CardHints(Protocol):
    """Tokens Cloud9's server callback reported, by the card form's reference (hints, not proof)."""

    def token_for(self, store_id: str, form_ref: str) -> str | None: ...


def transaction_ref(gmid: str, idempotency_key: str, purpose: str = "sale") -> str:
    """The ``NewGTRC`` of a charge (or refund): fixed by its idempotency key, so a retry reuses it."""
    return uuid.uuid5(_GTRC_NAMESPACE, f"{gmid}:{purpose}:{idempotency_key}").hex.upper()


def invoice_number(metadata: Mapping[str, str]) -> str:
    """The ``InvoiceNum`` of the companion invoice a charge is for."""
    return (metadata.get("invoice_id") or "")[:INVOICE_NUM_LENGTH]


def _brand(text: str) -> str:
    key = re.sub(r"[^a-z]", "", text.lower())
    return BRANDS.get(key, key or "card")


def _last4(masked: str) -> str:
    digits = re.sub(r"\D", "", masked[-4:])
    return digits if len(digits) == 4 else ""


def _expiry(mmyy: str) -> tuple[int, int]:
    if len(mmyy) == 4 and mmyy.isdigit() and 1 <= int(mmyy[:2]) <= 12:
        return int(mmyy[:2]), 2000 + int(mmyy[2:])
    return 0, 0


def _cents_of(amount: Money) -> int:
    """``amount`` in Cloud9's unit (cents of USD or CAD); a :class:`GatewayError` for anything else."""
    try:
        return to_gateway_minor(amount, CLOUD9)
    except UnchargeableAmount as exc:
        raise GatewayError(str(exc)) from None


def _cents(answer: Mapping[str, str], name: str) -> int:
    value = answer.get(name, "").strip()
    return int(value) if value.isdigit() else 0


class Cloud9Gateway:
    """One store's Cloud9 merchant account (see the module docstring). Build with :func:`build`."""

    kind = "cloud9"

    def __init__(
        self,
        client: Cloud9Client,
        *,
        frame_url: str = LIVE_FRAME_URL,
        currency: str = "USD",
        callback_url: str = "",
        merchant_name: str = "",
        store_id: str = "",
        card_hints: CardHints | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.frame_url = frame_url
        self.currency = currency
        self.callback_url = callback_url
        self.merchant_name = merchant_name
        self.store_id = store_id
        self._hints = card_hints
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"Cloud9Gateway(api_url={self.client.api_url!r}, gmid={self.client.credentials.gmid!r})"

    @property
    def _gmid(self) -> str:
        return self.client.credentials.gmid

    # -- connection ---------------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        """Ask about a token no merchant has: a "no such token" answer proves the credentials work.

        Raises :class:`Misconfigured` for refused credentials (101-103) and :class:`Unavailable` when
        Cloud9 cannot be reached, each with a message for the manager.
        """
        try:
            answer = self.client.call("GetCardTokenInfo", CardToken=PROBE_TOKEN)
        except NotSent:
            raise Unavailable(
                f"Cloud9 could not be reached at {self.client.api_url}. Check the network and the Cloud9 address."
            ) from None
        except LostAnswer as exc:
            raise Unavailable(f"Cloud9 did not answer properly ({exc}). Try again in a moment.") from None
        meaning = codes.meaning(answer)
        if meaning.kind is Kind.MISCONFIGURED and meaning.code in ("101", "102", "103"):
            raise Misconfigured(meaning.manager_message)
        if meaning.code == "105" or meaning.kind is Kind.APPROVED:
            return ConnectionCheck(
                True, f"Connected to Cloud9: merchant {self._gmid} and its terminal were accepted"
            )
        return ConnectionCheck(
            False, f"Cloud9 answered unexpectedly (error {meaning.code}); check the Cloud9 settings"
        )

    # -- customers and saved cards -----------------------------------------------------------------------
    # Cloud9 keeps card tokens but no customers: the companion keeps each client's cards (token, brand,
    # masked number, expiry, default) itself. A "customer" here is just the client's id, prefixed.
    def ensure_customer(self, client: ClientInfo, existing_ref: str | None = None) -> str:
        return existing_ref or f"c9_{client.id}"[:100]

    def list_methods(self, customer_ref: str) -> list[SavedMethod]:
        return []  # the companion's saved cards are the list

    def add_method(self, customer_ref: str, card: NewCard) -> SavedMethod:
        return self._saved(card.token, self._token_info(card.token))

    def remove_method(self, customer_ref: str, method_ref: str) -> None:
        """``DeleteCardToken``; a token Cloud9 no longer knows is already removed."""
        try:
            answer = self.client.call("DeleteCardToken", CardToken=method_ref)
        except CallFailed as exc:
            raise Unavailable("The card could not be removed right now. Please try again.") from exc
        meaning = codes.meaning(answer)
        if meaning.kind is not Kind.APPROVED and meaning.code != "105":
            self._raise_for(meaning, "DeleteCardToken")

    def set_default_method(self, customer_ref: str, method_ref: str) -> None:
        """Nothing to tell Cloud9: the default card is the companion's own record."""

    @staticmethod
    def _saved(token: str, info: Mapping[str, str]) -> SavedMethod:
        month, year = _expiry(info.get("ExpDate", ""))
        return SavedMethod(
            token, _brand(info.get("Brand", "")), _last4(info.get("AccountNum", "")), month, year
        )

    def _token_info(self, token: str) -> dict[str, str]:
        """``GetCardTokenInfo``: the confirmation a token from the page or a callback needs before use."""
        try:
            answer = self.client.call("GetCardTokenInfo", CardToken=token)
        except CallFailed:
            raise Unavailable(codes.UNAVAILABLE) from None
        meaning = codes.meaning(answer)
        if meaning.code == "105":
            raise Declined(CARD_UNREADABLE)
        if meaning.kind is not Kind.APPROVED:
            self._raise_for(meaning, "GetCardTokenInfo")
        return answer

    # -- the page ----------------------------------------------------------------------------------------
    def page_integration(self) -> PageIntegration:
        """Cloud9's card form with a fresh Seed (valid :data:`SEED_VALIDITY`): called for every render."""
        form = card_form(
            self.client.credentials,
            self.frame_url,
            now=self._clock(),
            callback_url=self.callback_url,
            merchant_name=self.merchant_name,
        )
        return PageIntegration(
            partial="cloud9_card.html",
            frame_origins=(form.origin,),
            client_config={
                "src": form.src,
                "origin": form.origin,
                "ref": form.ref,
                "expiresInMs": int(SEED_VALIDITY.total_seconds() * 1000),
            },
        )

    def read_new_card(self, fields: Mapping[str, str]) -> NewCard:
        """The token the page's card form produced, confirmed with ``GetCardTokenInfo``.

        It comes from the page (``gw_c9_token``, filled by the iframe's ``postMessage``) or, when the
        message never arrived, from the server callback recorded for this render (``gw_c9_ref``).
        """
        token = (fields.get("gw_c9_token") or "").strip().upper()
        ref = (fields.get("gw_c9_ref") or "").strip()
        if not token and ref and self._hints is not None:
            token = (self._hints.token_for(self.store_id, ref) or "").upper()
        if not token:
            raise Declined(ENTER_CARD)
        if not _TOKEN.match(token):
            raise Declined(CARD_UNREADABLE)
        info = self._token_info(token)
        return NewCard(
            token=token, brand=_brand(info.get("Brand", "")), last4=_last4(info.get("AccountNum", ""))
        )

    # -- money ------------------------------------------------------------------------------------------
    def charge(self, request: ChargeRequest) -> GatewayPayment:
        token = request.method_ref or (request.new_card.token if request.new_card else "")
        gtrc = transaction_ref(self._gmid, request.idempotency_key)
        invoice_num = invoice_number(request.metadata)
        main, tip = _cents_of(request.amount), _cents_of(request.tip)
        if main == 0:
            # A tip on its own (the confirmation page's tip) is a second Sale on the same card token, not
            # Cloud9's AddTip: AddTip only works on an Auth that is not settled yet, and we charge Sales
            # (captured at once); the tip window may also outlast the day's batch. Cloud9 wants a
            # positive MainAmt, so the tip is the Sale's amount; the companion's record still says
            # amount 0 + tip (see _payment).
            main, tip = tip, 0
        fields = {
            "Medium": "Credit",
            "CardToken": token,
            "MainAmt": str(main),
            "TipAmt": str(tip),
            "InvoiceNum": invoice_num,
            "NewGTRC": gtrc,
            "CheckDuplicate": "Y",
        }
        for attempt in (1, 2):
            try:
                answer = self.client.call("Sale", **fields)
            except NotSent:
                if attempt == 1:  # nothing left this machine: nothing was charged
                    raise NotTaken(codes.UNAVAILABLE) from None
                return self._unknown(request, gtrc, token)  # the first Sale may still land
            except LostAnswer:
                answer = None
            if answer is not None:
                meaning = codes.meaning(answer)
                if meaning.kind is Kind.DUPLICATE:
                    # 146: an approved Sale like this one exists. Ours, when it landed late: look again.
                    # On a first send it is another attempt's (the duplicate guard), so ours was refused.
                    return self._look_again(request, gtrc, invoice_num, token, answer, meaning, resent=attempt > 1)
                if meaning.kind is not Kind.TIMEOUT:
                    return self._payment(request, gtrc, answer, meaning)
            # The Sale may have gone through: ask before anything else.
            try:
                found = self._find(gtrc, invoice_num)
            except CallFailed:
                log.error(
                    "cloud9: sale %s for invoice %s has an unknown outcome; look it up later",
                    gtrc,
                    invoice_num,
                )
                return self._unknown(request, gtrc, token)
            if found is not None:
                log.info("cloud9: sale %s answer was lost; GetTransInfo found it", gtrc)
                return self._payment(request, gtrc, found, codes.meaning(found))
            log.info("cloud9: sale %s: no record after a lost answer (attempt %d)", gtrc, attempt)
        return self._unknown(request, gtrc, token)  # two lost answers: reconciliation looks it up later

    def _look_again(
        self,
        request: ChargeRequest,
        gtrc: str,
        invoice_num: str,
        token: str,
        answer: Mapping[str, str],
        meaning: codes.Meaning,
        *,
        resent: bool,
    ) -> GatewayPayment:
        try:
            found = self._find(gtrc, "")  # by our own GTRC only: the invoice's list holds the other Sale
        except CallFailed:
            return self._unknown(request, gtrc, token)
        if found is not None:
            return self._payment(request, gtrc, found, codes.meaning(found))
        if resent:  # our first Sale may still be landing: unknown, never declined
            log.warning("cloud9: sale %s answered 146 on a resend and is not found yet; its outcome is unknown", gtrc)
            return self._unknown(request, gtrc, token)
        return self._payment(request, gtrc, answer, meaning)

    def _find(self, gtrc: str, invoice_num: str) -> dict[str, str] | None:
        """A transaction by our GTRC, then in the invoice's list; None when Cloud9 has no record.

        Raises :class:`CallFailed` when Cloud9 does not answer (the outcome stays unknown).
        """
        answer = self.client.call("GetTransInfo", GTRC=gtrc)
        kind = codes.meaning(answer)
        if kind.kind is not Kind.NO_RECORD and kind.code != "104":
            if kind.kind is Kind.MISCONFIGURED:
                self._raise_for(kind, "GetTransInfo")
            return answer
        if not invoice_num:
            return None
        listing = self.client.call("GetTransInfo", InvoiceNum=invoice_num)
        if codes.meaning(listing).kind is not Kind.APPROVED:
            return None
        try:
            items = json.loads(listing.get("TransactionList") or "[]")
        except ValueError:
            return None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and str(item.get("GTRC", "")).replace("-", "").upper() == gtrc:
                return {str(k): str(v) for k, v in item.items()}
        return None

    def _payment(
        self, request: ChargeRequest, gtrc: str, answer: Mapping[str, str], meaning: codes.Meaning
    ) -> GatewayPayment:
        token = request.method_ref or (request.new_card.token if request.new_card else "")
        brand = (
            _brand(answer.get("Brand", ""))
            if answer.get("Brand")
            else (request.new_card.brand if request.new_card else "")
        )
        last4 = _last4(answer.get("AccountNum", "")) or (request.new_card.last4 if request.new_card else "")
        base = request.payment(
            answer.get("GTRC", "").upper() or gtrc,
            ChargeStatus.FAILED,
            card_brand=brand,
            card_last4=last4,
            method_ref=token,
        )
        if meaning.kind is Kind.APPROVED:
            charged = _cents(answer, "AuthAmt") or _cents(answer, "MainAmt") + _cents(answer, "TipAmt")
            if charged != request.total.minor:
                # Never report what we asked for when Cloud9 took something else: the companion refuses
                # a mismatch loudly instead of recording a wrong amount.
                log.error("cloud9: sale %s charged %s, asked %s", gtrc, charged, request.total.minor)
                currency = request.amount.currency
                base = replace(
                    base,
                    amount=Money(_cents(answer, "MainAmt"), currency),
                    tip=Money(_cents(answer, "TipAmt"), currency),
                )
            if answer.get("IsVoided", "N").upper() == "Y":
                return replace(base, status=ChargeStatus.REFUNDED)
            saved = None
            if request.save_card and request.customer_ref:
                month, year = _expiry(answer.get("ExpDate", ""))
                saved = SavedMethod(token, brand, last4, month, year)
            return replace(base, status=ChargeStatus.SUCCEEDED, saved_method=saved)
        if meaning.kind in (Kind.DECLINED, Kind.DUPLICATE):
            log.info("cloud9: sale %s declined (%s)", gtrc, meaning.code)
            return replace(base, message=meaning.client_message)
        self._raise_for(meaning, "Sale")
        raise AssertionError("unreachable")

    def _unknown(self, request: ChargeRequest, gtrc: str, token: str) -> GatewayPayment:
        return request.payment(gtrc, ChargeStatus.PROCESSING, method_ref=token, message=NOT_CONFIRMED)

    def _raise_for(self, meaning: codes.Meaning, operation: str) -> None:
        """Raise the typed error for an answer that is neither approval nor decline.

        The client sees only "temporarily unavailable"; the manager's reason goes to the log (and to
        Test connection). Nothing in either carries a secret.
        """
        if meaning.kind is Kind.MISCONFIGURED:
            log.error("cloud9 %s refused: %s", operation, meaning.manager_message)
            raise Misconfigured(meaning.client_message)
        if meaning.kind is Kind.TIMEOUT:
            raise Unavailable(meaning.client_message)
        log.error("cloud9 %s failed: %s", operation, meaning.manager_message or meaning.code)
        raise GatewayError(meaning.client_message)

    def confirm_action(self, payment_ref: str, fields: Mapping[str, str]) -> GatewayPayment:
        """Cloud9 charges by token ask the client nothing more: this is a lookup."""
        found = self.lookup(payment_ref)
        if found is None:
            raise Declined("This payment could not be found")
        return found

    def refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund:
        """Give back ``amount`` of the Sale ``payment_ref``: a ``Void`` when it is the whole Sale and the
        batch has not settled (no money moves at all), else a ``Refund`` by GTRC (full or partial)."""
        try:
            base = self.client.call("GetTransInfo", GTRC=payment_ref)
        except CallFailed:
            raise Unavailable(NO_ANSWER) from None
        if codes.meaning(base).kind is not Kind.APPROVED:
            raise Declined("Only a successful payment can be refunded")
        if base.get("IsVoided", "N").upper() == "Y":
            return GatewayRefund(f"void:{payment_ref}", payment_ref, amount, True)
        if amount.minor == _cents(base, "AuthAmt"):
            voided = self._void(payment_ref)
            if voided:
                return GatewayRefund(f"void:{payment_ref}", payment_ref, amount, True)
        return self._refund(payment_ref, amount, idempotency_key)

    def refund_time_bound(self) -> float:
        """:meth:`refund` makes at most REFUND_CALLS calls (GetTransInfo, two Voids each looked up, two
        Refunds each looked up), each bounded by the client's connect and answer timeouts."""
        timeout = self.client.timeout
        return REFUND_CALLS * (timeout + min(timeout, 10.0))

    def find_refund(self, payment_ref: str, amount: Money, idempotency_key: str) -> GatewayRefund | None:
        """The Refund whose GTRC derives from ``idempotency_key``, or the Void :meth:`refund` sends for a
        whole unsettled Sale; None when Cloud9 has neither (Cloud9 reports no refunded total)."""
        new_gtrc = transaction_ref(self._gmid, idempotency_key, "refund")
        try:
            made = self._find(new_gtrc, "")
            base = self._find(payment_ref.replace("-", "").upper(), "") if made is None else None
        except CallFailed:
            raise Unavailable(NO_ANSWER) from None
        if made is not None and codes.meaning(made).kind is Kind.APPROVED and made.get("IsVoided", "N").upper() != "Y":
            return GatewayRefund(made.get("GTRC", new_gtrc).upper(), payment_ref, amount, True)
        if base is not None and base.get("IsVoided", "N").upper() == "Y" and amount.minor == _cents(base, "AuthAmt"):
            return GatewayRefund(f"void:{payment_ref}", payment_ref, amount, True, amount)
        return None

    def _void(self, gtrc: str) -> bool:
        """True when the Sale is voided (now or before); False when it is too late (settled)."""
        for _ in (1, 2):
            try:
                answer = self.client.call("Void", GTRC=gtrc)
            except CallFailed:
                # Repeating a Void is harmless (115 "already voided"), but look first, as for a Sale.
                try:
                    info = self.client.call("GetTransInfo", GTRC=gtrc)
                except CallFailed:
                    raise Unavailable(NO_ANSWER) from None
                if info.get("IsVoided", "N").upper() == "Y":
                    return True
                continue
            meaning = codes.meaning(answer)
            if meaning.kind is Kind.APPROVED or meaning.code == "115":
                return True
            if meaning.code in ("113", "114"):
                return False  # settled (or has refunds): a Refund is the way
            self._raise_for(meaning, "Void")
        raise Unavailable(NO_ANSWER)

    def _refund(self, gtrc: str, amount: Money, idempotency_key: str) -> GatewayRefund:
        new_gtrc = transaction_ref(self._gmid, idempotency_key, "refund")
        for _ in (1, 2):
            try:
                answer: dict[str, str] | None = self.client.call(
                    "Refund", GTRC=gtrc, MainAmt=str(_cents_of(amount)), NewGTRC=new_gtrc
                )
            except CallFailed:
                try:
                    answer = self._find(new_gtrc, "")
                except CallFailed:
                    raise Unavailable(NO_ANSWER) from None
            if answer is None:
                continue  # no record of the refund: sending it again with the same GTRC is safe
            meaning = codes.meaning(answer)
            if meaning.kind is Kind.APPROVED:
                return GatewayRefund(answer.get("GTRC", new_gtrc).upper(), gtrc, amount, True)
            if meaning.code == "109":
                raise Declined("The refund is more than what is left of the payment")
            if meaning.code == "115":
                raise Declined("This payment was voided; there is nothing left to refund")
            if meaning.code in ("113", "114"):
                raise Declined("This payment cannot be refunded")
            self._raise_for(meaning, "Refund")
        raise Unavailable(NO_ANSWER)

    def lookup(
        self, payment_ref: str | None = None, *, metadata: Mapping[str, str] | None = None
    ) -> GatewayPayment | None:
        """A Sale by its GTRC, or by the ``idempotency_key`` in ``metadata`` (its GTRC is derived from it,
        and the invoice's ``InvoiceNum`` from ``invoice_id``, where the Sale is looked for second).

        Cloud9 keeps no metadata of ours, so other metadata finds nothing. ``kind=tip`` in ``metadata``
        says the Sale was a tip on its own, which :meth:`charge` sends as the Sale's ``MainAmt``: it is
        reported as the companion recorded it, amount 0 and that tip.
        """
        metadata = dict(metadata or {})
        gtrc = payment_ref
        if gtrc is None and metadata.get("idempotency_key"):
            gtrc = transaction_ref(self._gmid, metadata["idempotency_key"])
        if not gtrc:
            return None
        try:
            answer = self._find(gtrc.replace("-", "").upper(), invoice_number(metadata))
        except CallFailed:
            raise Unavailable(NO_ANSWER) from None
        if answer is None:
            return None
        meaning = codes.meaning(answer)
        status = ChargeStatus.SUCCEEDED if meaning.kind is Kind.APPROVED else ChargeStatus.FAILED
        if status is ChargeStatus.SUCCEEDED and answer.get("IsVoided", "N").upper() == "Y":
            status = ChargeStatus.REFUNDED
        main, tip = _cents(answer, "MainAmt"), _cents(answer, "TipAmt")
        if metadata.get("kind") == "tip":
            main, tip = 0, main + tip
        return GatewayPayment(
            ref=answer.get("GTRC", gtrc).upper(),
            status=status,
            amount=Money(main, self.currency),
            tip=Money(tip, self.currency),
            metadata=metadata,
            card_brand=_brand(answer.get("Brand", "")),
            card_last4=_last4(answer.get("AccountNum", "")),
            method_ref=answer.get("CardToken", ""),
            message=meaning.client_message if status is ChargeStatus.FAILED else "",
        )

    def find_attempt(self, keys: AttemptKeys) -> GatewayPayment | None:
        """The Sale whose GTRC derives from the attempt's idempotency key, else in the invoice's list."""
        return self.lookup(
            keys.gateway_ref or None,
            metadata={
                "payment_id": keys.payment_id,
                "idempotency_key": keys.idempotency_key,
                "invoice_id": keys.invoice_id,
                "kind": keys.kind,
            }
        )

    # -- webhooks ---------------------------------------------------------------------------------------
    def verify_and_parse_webhook(self, raw_body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        raise BadSignature("Cloud9 sends no signed webhooks; nothing posted here can be trusted")


def _setting(
    public: Mapping[str, Any], secrets: Mapping[str, Any], name: str, *, secret_only: bool = False
) -> str:
    sources = (secrets,) if secret_only else (secrets, public)
    for source in sources:
        for key in (name, name.lower()):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ""


API_URL_ENV = "POSDESK_CLOUD9_API_URL"


def api_url(public: Mapping[str, Any], test: bool, configured: str = "") -> str:
    """Where Cloud9's API is: the operator's address (``configured``, from the companion's configuration),
    else the store's setting, else Cloud9's.

    A store's setting may only name Cloud9's own hosts or this machine (a local Cloud9 stand-in): the
    merchant password travels with every call, so a terminal must not be able to send it elsewhere.
    """
    if configured.strip():
        return configured.strip()
    asked = str(public.get("api_url") or "").strip()
    if not asked:
        return TEST_API_URL if test else LIVE_API_URL
    return checked_api_address(asked, "Cloud9", "c9pg.com", API_URL_ENV)


def check_public(public: Mapping[str, Any]) -> None:
    """Refuse public settings this driver would refuse to use (a settings form's check)."""
    api_url(public, str(public.get("environment", "live")).lower() == "test")


def build(public: Mapping[str, Any], secrets: Mapping[str, Any], **ctx: Any) -> Cloud9Gateway:
    """Driver entry point (see :func:`posdesk.gateways.build_gateway`).

    ``secrets``: ``GMPW`` (and ``GMID``/``GTID``, which may also be public). ``public``: ``environment``
    (``live``, the default, or ``test``), optional ``api_url`` and ``frame_url`` overrides, ``timeout``
    (seconds), ``currency``, ``merchant_name``. ``ctx`` from the companion: ``store_id`` and
    ``public_url`` (for the card form's server callback), ``cloud9_card_hints``, ``clock``, ``cloud9_api_url`` (the operator's API address).
    """
    gmid, gtid = _setting(public, secrets, "GMID"), _setting(public, secrets, "GTID")
    gmpw = _setting(public, secrets, "GMPW", secret_only=True)
    if not (gmid and gtid and gmpw):
        raise Misconfigured(
            "Cloud9 needs the merchant ID (GMID), terminal ID (GTID) and merchant password (GMPW)"
        )
    test = str(public.get("environment", "live")).lower() == "test"
    try:
        timeout = float(public.get("timeout") or DEFAULT_TIMEOUT)
    except ValueError:
        raise Misconfigured("The Cloud9 timeout must be a number of seconds") from None
    client = Cloud9Client(
        Credentials(gmid, gtid, gmpw),
        api_url=api_url(public, test, str(ctx.get("cloud9_api_url") or "")),
        timeout=timeout,
        transport=ctx.get("cloud9_transport"),
    )
    store_id, public_url = str(ctx.get("store_id") or ""), str(ctx.get("public_url") or "")
    callback = (
        f"{public_url.rstrip('/')}/webhooks/cloud9/{store_id}/card-token" if store_id and public_url else ""
    )
    return Cloud9Gateway(
        client,
        frame_url=str(public.get("frame_url") or (TEST_FRAME_URL if test else LIVE_FRAME_URL)),
        currency=str(public.get("currency") or "USD"),
        callback_url=callback,
        merchant_name=str(public.get("merchant_name") or ctx.get("store_name") or ""),
        store_id=store_id,
        card_hints=ctx.get("cloud9_card_hints"),
        clock=ctx.get("clock"),
    )
