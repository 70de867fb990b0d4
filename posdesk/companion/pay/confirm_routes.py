"""The payment page's JSON steps for gateways that confirm in the browser
(:mod:`posdesk.companion.payments.page_confirm`, :class:`~posdesk.gateways.base.ConfirmsOnPage`).

The addresses are the ones the gateway's own page partial calls (``/pay/{token}/stripe/...`` for the
Stripe driver's templates); the handlers are gateway-neutral. The page itself, ``GET /pay/{token}``,
is the generic one (:func:`posdesk.companion.pay.routes.show_invoice`). Page steps take the same guards
as the page's forms: a per-link CSRF token, no cross-site posts, the rate limit per address, and no
amount from the browser.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from posdesk.companion import payments
from posdesk.companion.deps import get_db
from posdesk.companion.i18n import Translator, translator
from posdesk.companion.models import PaymentStatus
from posdesk.companion.pay.security import checked_form, form_text
from posdesk.companion.payments import page_confirm, saved_cards
from posdesk.companion.ratelimit import limit_by_address
from posdesk.core.currencies import table_for, to_gateway_minor
from posdesk.core.links import hash_token
from posdesk.core.tips import TipChoice, TipError, read_tip_choice
from posdesk.gateways.base import GatewayError

log = logging.getLogger(__name__)
page_router = APIRouter(dependencies=[Depends(limit_by_address)], include_in_schema=False)
MONEY_FIELDS = ("amount", "amount_minor", "total", "currency", "due_now")  # their presence is tampering
TAMPERED_MESSAGE = "This request was changed and has been refused. Nothing was charged."


def _t(form: FormData) -> Translator:
    return translator(form_text(form, "lang", 5) or "en")


def _tip(form: FormData, currency: str, locale: str) -> TipChoice:
    # Read in the page's locale, as the page read it (posdesk.core.amount_input).
    return read_tip_choice(form_text(form, "tip", 40), form_text(form, "tip_custom", 40), currency, locale)


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _receipt_url(token: str, payment_id: str, lang: str) -> str:
    suffix = f"?lang={lang}" if lang != "en" else ""
    return f"/pay/{token}/payments/{payment_id}{suffix}"


# -- a new card, confirmed on the page ------------------------------------------------------------------
@page_router.post("/pay/{token}/stripe/intent")
async def start_payment(request: Request, token: str) -> Response:
    form = await checked_form(request, token)
    return await run_in_threadpool(_start_payment, request, token, form)


def _start_payment(request: Request, token: str, form: FormData) -> Response:
    t = _t(form)
    if any(name in form for name in MONEY_FIELDS):
        return _error(t(TAMPERED_MESSAGE), 400)
    with get_db(request).read() as session:
        from posdesk.companion.pay.views import find

        found = find(session, token)
    if found.balance is None:
        return _error(t("This payment link is no longer active"), 404)
    version = form_text(form, "version", 12)
    try:
        pay = payments.PayRequest(
            version=int(version) if version.isdigit() else -1,
            tip=_tip(form, found.balance.currency, translator(t.lang, found.balance.invoice.locale).locale),
            save_card=form_text(form, "save_card", 5) in ("on", "1", "yes"),
        )
        prepared = page_confirm.start_payment(
            get_db(request), payments.gateway_directory(request.app.state), hash_token(token), pay
        )
    except TipError as exc:
        return _error(t(str(exc)), 400)
    except payments.PaymentRefused as exc:
        return _error(t(exc.message), exc.status)
    except GatewayError as exc:
        return _error(t(exc.message), 502)
    return JSONResponse(
        {
            "payment_id": prepared.payment_id,
            "client_secret": prepared.client_secret,
            "amount": to_gateway_minor(prepared.total, table_for(found.store.gateway_kind if found.store else "stripe")),
            "currency": prepared.total.currency.lower(),
            "setup_future_usage": "off_session" if prepared.save_card else None,
            "return_url": f"/pay/{token}/payments/{prepared.payment_id}/stripe/return",
            "sync_url": f"/pay/{token}/payments/{prepared.payment_id}/stripe/sync",
        },
        headers={"Cache-Control": "no-store"},
    )


@page_router.post("/pay/{token}/payments/{payment_id}/stripe/sync")
async def sync_payment(request: Request, token: str, payment_id: str) -> Response:
    form = await checked_form(request, token)
    return await run_in_threadpool(_sync_payment, request, token, payment_id, _t(form))


def _sync_payment(request: Request, token: str, payment_id: str, t: Translator) -> Response:
    try:
        outcome = page_confirm.sync_payment(
            get_db(request), payments.gateway_directory(request.app.state), hash_token(token), payment_id
        )
    except LookupError:
        return _error(t("This payment could not be found"), 404)
    except GatewayError as exc:
        return _error(t(exc.message), 502)
    body: dict[str, Any] = {
        "status": outcome.status.value,
        "message": t(outcome.message) if outcome.message else "",
    }
    if outcome.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION):
        body["next"] = _receipt_url(token, payment_id, t.lang)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@page_router.get("/pay/{token}/payments/{payment_id}/stripe/return")
async def payment_return(request: Request, token: str, payment_id: str) -> Response:
    """Where Stripe.js sends the client after a redirect: apply Stripe's answer, show the receipt."""

    def work() -> Response:
        try:
            page_confirm.sync_payment(
                get_db(request), payments.gateway_directory(request.app.state), hash_token(token), payment_id
            )
        except LookupError:
            return RedirectResponse(f"/pay/{token}", status_code=303)
        except GatewayError:
            pass  # the receipt page says "processing" and the webhook or reconciliation finishes it
        return RedirectResponse(
            _receipt_url(token, payment_id, request.query_params.get("lang", "en")), status_code=303
        )

    return await run_in_threadpool(work)


@page_router.get("/pay/{token}/payments/{payment_id}/stripe/secret")
async def payment_secret(request: Request, token: str, payment_id: str) -> Response:
    """The client secret of a payment waiting for 3-D Secure, for ``stripe.handleNextAction``."""

    def work() -> Response:
        try:
            secret = page_confirm.client_secret(
                get_db(request), payments.gateway_directory(request.app.state), hash_token(token), payment_id
            )
        except (LookupError, payments.PaymentRefused):
            return _error("Nothing to confirm", 404)
        except GatewayError as exc:
            return _error(exc.message, 502)
        return JSONResponse({"client_secret": secret}, headers={"Cache-Control": "no-store"})

    return await run_in_threadpool(work)


# -- saving a card without paying -------------------------------------------------------------------------
@page_router.post("/pay/{token}/stripe/setup")
async def start_setup(request: Request, token: str) -> Response:
    form = await checked_form(request, token)
    t = _t(form)

    def work() -> Response:
        try:
            setup_ref, secret = saved_cards.start_setup(
                get_db(request), payments.gateway_directory(request.app.state), hash_token(token)
            )
        except payments.PaymentRefused as exc:
            return _error(t(exc.message), exc.status)
        return JSONResponse(
            {
                "setup_id": setup_ref,
                "client_secret": secret,
                "done_url": f"/pay/{token}/stripe/setup/{setup_ref}/done",
            },
            headers={"Cache-Control": "no-store"},
        )

    return await run_in_threadpool(work)


@page_router.post("/pay/{token}/stripe/setup/{setup_ref}/done")
async def finish_setup(request: Request, token: str, setup_ref: str) -> Response:
    form = await checked_form(request, token)
    t = _t(form)

    def work() -> Response:
        try:
            card = saved_cards.finish_setup(
                get_db(request),
                payments.gateway_directory(request.app.state),
                hash_token(token),
                setup_ref[:100],
            )
        except LookupError:
            return _error(t("This payment link is no longer active"), 404)
        except GatewayError as exc:
            return _error(t(exc.message), 502)
        if card is None:
            return _error(t("The card was not saved"), 409)
        return JSONResponse({"card_id": card.id, "last4": card.last4, "next": f"/pay/{token}"})

    return await run_in_threadpool(work)
