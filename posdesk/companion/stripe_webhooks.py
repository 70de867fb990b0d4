"""Stripe's webhooks at ``POST /webhooks/stripe``: verified, stored once, applied.

One companion serves several stores, each with its own Stripe account and signing secret, so the event
is verified with ``stripe.Webhook.construct_event`` against each Stripe store's secret until one
verifies (``/webhooks/stripe/{store_id}`` names the store). Nothing that fails to verify is written.

Storage and payment events go through the shared pipeline (:mod:`posdesk.companion.webhooks.pipeline`:
unique by event id, forward-only, kept and retried while the invoice is unknown). What the pipeline
does not model is applied here, idempotently, on every delivery (a duplicate included, so a delivery
that failed half-way is finished by Stripe's retry): refunds (``charge.refunded``, by the refunded
total), canceled intents, and cards saved without paying (``setup_intent.succeeded``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from posdesk.companion.database import Database
from posdesk.companion.models import Payment, Store
from posdesk.companion.payments import GatewayDirectory, lock_payment
from posdesk.companion.refunds import record_refund
from posdesk.companion.stripe_pay import cancel_payment, record_setup
from posdesk.companion.webhooks import pipeline
from posdesk.gateways.base import BadSignature, GatewayError, GatewayEvent, Misconfigured
from posdesk.gateways.stripe import StripeGateway, canceled_of, refund_of, setup_of

log = logging.getLogger(__name__)

KIND = "stripe"


def verify(
    db: Database,
    directory: GatewayDirectory,
    raw_body: bytes,
    headers: Mapping[str, str],
    store_id: str | None = None,
) -> GatewayEvent:
    """The event, verified with the secret of the store it is for; :class:`BadSignature` otherwise
    (:class:`~posdesk.companion.webhooks.pipeline.UnknownGateway` when no store takes Stripe)."""
    with db.read() as session:
        query = select(Store).where(Store.gateway_kind == KIND)
        if store_id is not None:
            query = query.where(Store.id == store_id)
        stores = list(session.scalars(query))
        for store in stores:
            session.expunge(store)
    if not stores:
        raise pipeline.UnknownGateway(
            KIND
        )  # no such store, or none takes Stripe: 404 like any unknown endpoint
    failure = BadSignature("no Stripe store's secret verifies this event")
    for store in stores:
        try:
            gateway = directory.for_store(store)
        except Misconfigured as exc:
            failure = BadSignature(f"a Stripe store is not configured: {exc.message}")
            continue
        try:
            return gateway.verify_and_parse_webhook(raw_body, headers)
        except BadSignature as exc:
            failure = exc
    raise failure


def receive(
    db: Database,
    directory: GatewayDirectory,
    raw_body: bytes,
    headers: Mapping[str, str],
    store_id: str | None = None,
) -> tuple[GatewayEvent, int | None]:
    """Verify and store; ``(event, stored row id or None for a duplicate)``. Raises BadSignature."""
    event = verify(db, directory, raw_body, headers, store_id)
    row_id = pipeline.store(db, KIND, event)
    apply_outside_pipeline(db, event)
    return event, row_id


def apply_outside_pipeline(db: Database, event: GatewayEvent) -> None:
    """Refunds and cancellations, by the intent's id (idempotent: totals and forward moves only)."""
    refund = refund_of(event)
    canceled = canceled_of(event)
    ref = refund.payment_ref if refund is not None else canceled
    if ref is None:
        return
    with db.write() as session:
        payment_id = session.scalars(
            select(Payment.id).where(Payment.gateway == KIND, Payment.gateway_payment_id == ref)
        ).one_or_none()
        if payment_id is None:
            log.info("stripe %s for an intent this companion does not know: %s", event.type, ref)
            return
        payment = lock_payment(session, payment_id)
        if refund is not None:
            record_refund(session, payment, refund.refunded_total)
        else:
            cancel_payment(payment)


def apply_saved_card(db: Database, directory: GatewayDirectory, event: GatewayEvent) -> None:
    """``setup_intent.succeeded``: keep the card for the client (asks Stripe for the card's details)."""
    setup = setup_of(event)
    if setup is None:
        return
    store_id = setup.metadata.get("store_id", "")
    with db.read() as session:
        store = session.get(Store, store_id)
        if store is None:
            return
        session.expunge(store)
    try:
        gateway = directory.for_store(store)
        if isinstance(gateway, StripeGateway):
            record_setup(
                db,
                gateway,
                store_id,
                setup.metadata.get("client_id", ""),
                setup.customer_ref,
                setup.method_ref,
            )
    except GatewayError as exc:
        log.warning("saving the card of %s failed: %s", setup.setup_ref, exc.message)
