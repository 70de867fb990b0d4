"""One refund of a payment at a time, across every worker and every companion on the database.

A refund takes the payment's claim with one conditional UPDATE (a token and when it lapses): it wins
only when nobody holds it or the holder's claim lapsed. No transaction is held across the gateway call:
the holder notes the refund it is about to ask (its idempotency key and the refunded total once it
lands), asks the gateway, records the answer and lets the claim go. A holder that died (a killed
worker) leaves its note; whoever claims the payment next, a refund or the reconciliation pass, first asks
the gateway what became of that refund (:class:`~posdesk.gateways.base.FindsRefunds`) and records it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, or_, select, update
from sqlalchemy.orm import Session

from posdesk.companion.database import Database
from posdesk.companion.models import Payment, Store, utcnow
from posdesk.companion.payments import ledger
from posdesk.companion.payments.directory import GatewayDirectory
from posdesk.companion.payments.errors import RefundRefused
from posdesk.core.money import Money
from posdesk.gateways.base import BoundsRefunds, FindsRefunds, GatewayError

log = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)  # the least a claim is held: the database steps around a gateway call
# A claim is held from the start of each gateway call for as long as that call can last (the gateway's
# own bound: timeouts x attempts, BoundsRefunds) plus this margin for recording the answer. A fixed span
# would be too short for a gateway configured with more retries (Stripe with 5: about 2.5 min; Cloud9's
# refund with its look-ups: several minutes), and a live worker still waiting on the gateway would lose
# its claim to a second refund, which could then refund again.
CALL_MARGIN = timedelta(seconds=30)
WAIT_SECONDS = 8.0  # a second request waits this long for the first before it is refused
POLL_SECONDS = 0.05
IN_PROGRESS = "A refund of this payment is in progress. Try again in a moment."


def hold_for(gateway: object) -> timedelta:
    """How long a claim must last from the start of a refund call to ``gateway`` (or the look-up of one)."""
    if isinstance(gateway, BoundsRefunds):
        return max(CLAIM_FOR, timedelta(seconds=gateway.refund_time_bound()) + CALL_MARGIN)
    return CLAIM_FOR


def refund_key(payment_id: str, before: int, amount: int) -> str:
    """A refund's idempotency key, from what it asks: the same key never carries other parameters."""
    return f"refund:{payment_id}:from{before}:amount{amount}"


def _before_of(key: str) -> int:
    found = re.search(r":from(\d+):amount\d+$", key)
    return int(found.group(1)) if found else 0


@dataclass(frozen=True)
class Claim:
    """The claim one refund holds on a payment (``token``)."""

    db: Database
    payment_id: str
    token: str

    def asking(self, before: int, amount: int, hold: timedelta = CLAIM_FOR) -> str:
        """Note the refund of ``amount`` about to be asked (``before`` refunded so far) and keep the claim
        for ``hold`` (:func:`hold_for` the gateway) from now; its idempotency key."""
        key = refund_key(self.payment_id, before, amount)
        self._keep(hold, refund_pending_key=key, refund_pending_minor=amount)
        return key

    def _keep(self, hold: timedelta, **values: Any) -> None:
        """Hold the claim ``hold`` from now; 409 "in progress" when it was lost meanwhile (a step before
        the call outlasted it), so this worker never calls the gateway while another holds the payment."""
        with self.db.write() as session:
            kept = cast(
                CursorResult[Any], session.execute(self._mine().values(refund_claim_until=utcnow() + hold, **values))
            ).rowcount
        if kept != 1:
            raise RefundRefused(IN_PROGRESS, 409, retry_after=2)

    def answered(self) -> None:
        """The gateway answered and nothing is left to look up."""
        with self.db.write() as session:
            self.answered_in(session)

    def answered_in(self, session: Session) -> None:
        session.execute(self._mine().values(refund_pending_key=None, refund_pending_minor=None))

    def _mine(self) -> Update:
        return (
            update(Payment)
            .where(Payment.id == self.payment_id, Payment.refund_claim == self.token)
            .execution_options(synchronize_session=False)
        )


def take(db: Database, payment_id: str, token: str) -> bool:
    """Take the payment's claim if nobody holds it (or the holder's lapsed); ``RefundRefused`` 404 when
    there is no such payment."""
    now = utcnow()
    with db.write() as session:
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(Payment)
                .where(
                    Payment.id == payment_id,
                    or_(Payment.refund_claim.is_(None), Payment.refund_claim_until < now),
                )
                .values(refund_claim=token, refund_claim_until=now + CLAIM_FOR)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if taken == 1:
            return True
        if session.scalar(select(Payment.id).where(Payment.id == payment_id)) is None:
            raise RefundRefused("No such payment", 404)
        return False


def release(db: Database, payment_id: str, token: str) -> None:
    with db.write() as session:
        session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.refund_claim == token)
            .values(refund_claim=None, refund_claim_until=None)
            .execution_options(synchronize_session=False)
        )


@contextmanager
def claimed(
    db: Database, payment_id: str, gateways: GatewayDirectory, *, wait_seconds: float = WAIT_SECONDS
) -> Iterator[Claim]:
    """Hold the payment's refund claim for the block, after settling a refund its last holder left
    unrecorded. ``RefundRefused`` 409 when another refund still holds it after ``wait_seconds``."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds
    while not take(db, payment_id, token):
        if time.monotonic() >= deadline:
            raise RefundRefused(IN_PROGRESS, 409, retry_after=2)
        time.sleep(POLL_SECONDS)
    claim = Claim(db, payment_id, token)
    try:
        settle_unrecorded(claim, gateways)
        yield claim
    finally:
        release(db, payment_id, token)


def settle_unrecorded(claim: Claim, gateways: GatewayDirectory) -> bool:
    """Record what became of a refund the claim's last holder asked and never recorded; True if it moved."""
    with claim.db.read() as session:
        payment = session.get(Payment, claim.payment_id)
        assert payment is not None
        if payment.refund_pending_key is None:
            return False
        key, amount = payment.refund_pending_key, payment.refund_pending_minor or 0
        ref, currency, kind = payment.gateway_payment_id or "", payment.currency, payment.gateway
        store = session.get(Store, payment.store_id)
        assert store is not None
        try:
            gateway = gateways.for_store(store)
        except GatewayError as exc:
            raise RefundRefused(exc.message, 502) from None
    if not isinstance(gateway, FindsRefunds) or gateway.kind != kind:
        log.warning("refund %s of payment %s cannot be looked up at %s", key, claim.payment_id, gateway.kind)
        return False
    total_after = _before_of(key) + amount
    claim._keep(hold_for(gateway))
    try:
        found = gateway.find_refund(ref, Money(amount, currency), key)
    except GatewayError as exc:
        raise RefundRefused(
            f"An earlier refund of this payment could not be checked: {exc.message}", 502
        ) from None
    with claim.db.write() as session:
        locked = ledger.lock_payment(session, claim.payment_id)
        moved = False
        if found is not None and found.succeeded:
            moved = ledger.record_refund(
                session, locked, found.refunded_total or Money(total_after, currency)
            )
        log.warning(
            "refund %s of payment %s left unrecorded by its worker: %s at the gateway",
            key,
            claim.payment_id,
            "made" if found is not None and found.succeeded else "not made",
        )
        claim.answered_in(session)
        return moved


def settle_abandoned(db: Database, gateways: GatewayDirectory) -> int:
    """Reconciliation: every refund whose worker died before recording it; how many records moved."""
    now = utcnow()
    with db.read() as session:
        left = session.scalars(
            select(Payment.id).where(
                Payment.refund_pending_key.is_not(None),
                or_(Payment.refund_claim.is_(None), Payment.refund_claim_until < now),
            )
        ).all()
    moved = 0
    for payment_id in left:
        token = uuid.uuid4().hex
        if not take(db, payment_id, token):
            continue  # someone took it meanwhile: they settle it
        try:
            moved += settle_unrecorded(Claim(db, payment_id, token), gateways)
        except RefundRefused as exc:
            log.warning("refund of payment %s still unknown: %s", payment_id, exc.message)
        finally:
            release(db, payment_id, token)
    return moved
