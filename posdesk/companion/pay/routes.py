"""The payment page: ``/pay/{token}`` and what its forms post to.

Every handler looks the invoice up by the token's hash and answers unknown, expired and revoked links
the same way. Forms carry a CSRF token and are refused from other sites. Database and gateway work
runs in the thread pool (both are blocking).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from babel.dates import format_date
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from posdesk.companion import payments
from posdesk.companion.deps import get_config, get_db
from posdesk.companion.i18n import Translator, pick_language, translator
from posdesk.companion.models import PaymentStatus
from posdesk.companion.pay import choices, page_memo, views
from posdesk.companion.pay.brand import Brand, brand_of, logo_bytes, logo_version
from posdesk.companion.pay.cards import make_default, remove_card
from posdesk.companion.pay.receipt import ReceiptForm, blank_form, send_receipt
from posdesk.companion.pay.rendering import render
from posdesk.companion.pay.security import checked_form, csrf_token, form_text
from posdesk.companion.pay.views import Found, LinkState
from posdesk.companion.payments import saved_cards
from posdesk.companion.ratelimit import RateLimiter, limit_by_address
from posdesk.core.languages import DEFAULT_PAGE_LANGUAGE, PAGE_LANGUAGES
from posdesk.core.links import hash_token
from posdesk.core.money import Money
from posdesk.core.text import without_bidi_controls
from posdesk.core.tips import TipChoice, TipError, read_tip_choice
from posdesk.gateways.base import GatewayError

router = APIRouter(dependencies=[Depends(limit_by_address)], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_FILES = {"pay.css": "text/css", "pay.js": "text/javascript"}
MONEY_FIELDS = ("amount", "amount_minor", "total", "currency", "due_now")  # never read: their presence is tampering
T = TypeVar("T")
# Promo codes tried on one link: 10 at once, then one a minute (this process's memory, like the
# per-address limits).
PROMO_ATTEMPTS = RateLimiter(1, burst=10)


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(function, *args)


async def _handle_form(
    request: Request, token: str, handler: Callable[..., Response], *args: Any
) -> Response:
    """A form posted to the page: checked here (same origin, CSRF), then ``handler(request, token, *args,
    form)`` in a worker thread."""
    form = await checked_form(request, token)
    return await _in_thread(handler, request, token, *args, form)


def _translator(request: Request, found: Found, asked: str | None = None) -> Translator:
    asked = asked or request.query_params.get("lang")
    if found.settings is None:
        return translator(pick_language(asked, PAGE_LANGUAGES, DEFAULT_PAGE_LANGUAGE, request.headers.get("accept-language")))
    settings = found.settings
    lang = pick_language(asked, settings.languages, settings.default_locale, request.headers.get("accept-language"))
    return translator(lang, found.balance.invoice.locale if found.balance else "en_US")


def _url(token: str, path: str = "", lang: str = "en", **query: str) -> str:
    params = {"lang": lang, **query} if lang != "en" else query
    return f"/pay/{token}{path}" + (f"?{urlencode(params)}" if params else "")


def _find(request: Request, token: str) -> Found:
    with get_db(request).read() as session:
        return views.find(session, token)


def _posted_to(request: Request, token: str, form: FormData) -> tuple[Found, Translator]:
    """The link a form was posted to, and the page's language as the form asked for it."""
    found = _find(request, token)
    return found, _translator(request, found, form_text(form, "lang", 5) or None)


def _brand(found: Found, token: str) -> Brand | None:
    if found.settings is None:
        return None
    logo = _url(token, "/logo", v=logo_version(found.settings)) if found.settings.logo else ""
    return brand_of(found.settings, logo)


def _invoice_date(found: Found, t: Translator) -> str:
    return format_date(found.row.created_at, "medium", locale=t.locale) if found.row is not None else ""


def _inactive(request: Request, t: Translator) -> Response:
    # One page for unknown, expired and revoked links: a token cannot be probed by its answer.
    return render(request, "inactive.html", t, status_code=404, languages=PAGE_LANGUAGES)


# -- static ----------------------------------------------------------------------------------------------
@router.get("/static/pay/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=3600"})


# -- the page ------------------------------------------------------------------------------------------
@router.get("/pay/{token}")
async def show_invoice(request: Request, token: str) -> Response:
    """The page: one trip to the thread pool, one read transaction (a known client of a gateway that
    keeps the card list first has their saved cards brought in line with it, see :func:`_show_invoice`).
    A page remembered for the same rows is answered without the thread pool when they can be read at
    once (SQLite, see :mod:`.page_memo`)."""
    memo = page_memo.memo_for(request)
    now = memo.rows_at_once(request, token)
    kept = memo.page(token, now) if now is not None else None
    if kept is not None:
        return page_memo.kept_response(request, kept)
    return await _in_thread(_show_invoice_remembered, request, token)


def _show_invoice_remembered(request: Request, token: str) -> Response:
    """The page served again while nothing it is made from has changed (see :mod:`.page_memo`), else
    made by :func:`_show_invoice`."""
    memo = page_memo.memo_for(request)
    before = memo.rows(request, token)
    kept = memo.page(token, before)
    if kept is not None:
        return page_memo.kept_response(request, kept)
    with page_memo.recording() as reads:
        response = _show_invoice(request, token, None, None, 200, True)
    page_memo.remember(request, memo, token, before, reads, response)
    return response


def _cards_kept_at_gateway(request: Request, found: Found) -> bool:
    if found.state is not LinkState.PAYABLE or found.store is None or found.row is None or found.row.client_id is None:
        return False
    try:
        gateway = payments.gateway_directory(request.app.state).for_store(found.store)
    except GatewayError:
        return False
    return saved_cards.cards_kept_at_gateway(gateway)


def _show_invoice(
    request: Request,
    token: str,
    error: str | None,
    notice: str | None,
    status_code: int = 200,
    refresh_cards: bool = False,
    chosen: choices.Chosen = choices.NOTHING,
) -> Response:
    db = get_db(request)
    with db.read() as session:
        found = views.find(session, token)
        refresh_cards = refresh_cards and _cards_kept_at_gateway(request, found)
        if refresh_cards:
            page_memo.refuse(request)
        if not refresh_cards:
            response, first_open = _invoice_page(request, session, found, token, error, notice, status_code, chosen)
    if refresh_cards:
        # The gateway's list of the client's cards (at most one call a minute per customer; gateway down,
        # the stored ones), outside the read transaction since it may write; then the page, read afresh.
        saved_cards.refresh_saved_cards(db, payments.gateway_directory(request.app.state), hash_token(token))
        return _show_invoice(request, token, error, notice, status_code, chosen=chosen)
    if first_open is not None:
        payments.mark_opened(db, first_open)
    elif found.state is LinkState.PAYABLE and found.row is not None and (error, notice, status_code, chosen) == (None, None, 200, choices.NOTHING):
        page_memo.may_keep(request, found.row.expires_at)
    return response


def _invoice_page(
    request: Request,
    session: Session,
    found: Found,
    token: str,
    error: str | None,
    notice: str | None,
    status_code: int,
    chosen: choices.Chosen = choices.NOTHING,
) -> tuple[Response, str | None]:
    """The page for ``found``, and the invoice's id when this is the link's first opening."""
    t = _translator(request, found)
    if found.state is LinkState.INACTIVE:
        return _inactive(request, t), None
    assert found.row is not None and found.store is not None and found.settings is not None
    csrf = csrf_token(get_config(request), hash_token(token))
    if found.state is LinkState.PAID:
        last = views.latest_payment(session, found.row.id)
        receipt = views.receipt_view(session, found, last, t) if last is not None else None
        parts, paid_total = views.paid_parts(session, found.row.id, t)
        return render(
            request,
            "paid.html",
            t,
            token=token,
            receipt=receipt,
            parts=parts,
            paid_total=paid_total,
            # The invoice itemised, as under the receipt (no gateway: no saved cards).
            view=views.page_view(session, found, t, "") if found.balance is not None else None,
            business=without_bidi_controls(found.settings.business_name),
            languages=found.settings.languages,
            balance=t.money(found.balance.balance_due) if found.balance else "",
            emailing=blank_form(found, request.app.state.messaging),
            csrf=csrf,
            url=lambda path="", **q: _url(token, path, t.lang, **q),
            brand=_brand(found, token),
            invoice_date=_invoice_date(found, t),
        ), None
    checking = views.payment_being_checked(session, found.row.id)
    if checking is not None:
        return RedirectResponse(_url(token, f"/payments/{checking.id}", t.lang), status_code=303), None
    gateway = payments.gateway_directory(request.app.state).for_store(found.store)
    view = views.page_view(session, found, t, gateway.kind)
    brand, invoice_date = _brand(found, token), _invoice_date(found, t)
    response = render(
        request,
        "pay.html",
        t,
        status_code=status_code,
        integration=gateway.page_integration(),
        languages=found.settings.languages,
        # Every other value the template reads: the page for this key is always the same page.
        keep=(token, view, csrf, error, notice, chosen, brand, invoice_date),
        token=token,
        brand=brand,
        invoice_date=invoice_date,
        view=view,
        csrf=csrf,
        error=error,
        notice=notice,
        chosen=chosen,
        url=lambda path="", **q: _url(token, path, t.lang, **q),
    )
    return response, (found.row.id if found.row.opened_at is None else None)


@router.get("/pay/{token}/logo")
async def store_logo(request: Request, token: str) -> Response:
    """The store's logo for the page's header (kept by the browser; its address changes with it)."""
    found = await _in_thread(_find, request, token)
    image = logo_bytes(found.settings) if found.settings is not None else None
    if image is None:
        raise HTTPException(404)
    content, media_type = image
    return Response(content, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/pay/{token}/status")
async def invoice_status(request: Request, token: str) -> JSONResponse:
    found = await _in_thread(_find, request, token)
    t = _translator(request, found)
    body = views.status_json(found, t)
    return JSONResponse(body, status_code=404 if body["state"] == "inactive" else 200, headers={"Cache-Control": "no-store"})


# -- forms -----------------------------------------------------------------------------------------------
def _tip_choice(form: FormData, currency: str, locale: str, prefix: str = "tip") -> TipChoice:
    return read_tip_choice(form_text(form, prefix, 40), form_text(form, f"{prefix}_custom", 40), currency, locale)


@router.post("/pay/{token}/pay")
async def pay(request: Request, token: str) -> Response:
    return await _handle_form(request, token, _pay)


def _pay(request: Request, token: str, form: FormData) -> Response:
    found, t = _posted_to(request, token, form)
    if found.state is not LinkState.PAYABLE or found.balance is None:
        return RedirectResponse(_url(token, lang=t.lang), status_code=303)
    if any(name in form for name in MONEY_FIELDS):
        return _show_invoice(request, token, t("This request was changed and has been refused. Nothing was charged."), None, 400)
    version = form_text(form, "version", 12)
    chosen = choices.posted(form)
    try:
        tip = _tip_choice(form, found.balance.currency, t.locale)
        request_ = payments.PayRequest(
            version=int(version) if version.isdigit() else -1,
            tip=tip,
            saved_card_id=(form_text(form, "card", 64) or None) if form_text(form, "card", 64) not in ("", "new") else None,
            card_fields={name: form_text(form, name, 40) for name in form if isinstance(name, str) and name.startswith(("sim_", "gw_"))},
            save_card=form_text(form, "save_card", 5) in ("on", "1", "yes"),
        )
        outcome = payments.pay_invoice(get_db(request), payments.gateway_directory(request.app.state), hash_token(token), request_)
    except TipError as exc:
        return _show_invoice(request, token, t(str(exc)), None, 400, chosen=chosen.at(choices.TIP))
    except payments.VersionChanged:
        fresh = _find(request, token)
        amount = t.money(fresh.balance.due_now) if fresh.balance else ""
        return _show_invoice(request, token, t("This invoice was updated. The new amount due is {amount}. Please review it and pay again.", amount=amount), None, 409)
    except payments.PaymentRefused as exc:
        return _show_invoice(request, token, t(exc.message), None, exc.status, chosen=chosen.at(choices.CARD))
    except GatewayError as exc:
        return _show_invoice(request, token, t(exc.message), None, 502, chosen=chosen.at(choices.CARD))
    return _after_outcome(token, outcome, t, request, chosen)


def _after_outcome(
    token: str, outcome: payments.PayOutcome, t: Translator, request: Request, chosen: choices.Chosen = choices.NOTHING
) -> Response:
    if outcome.status is PaymentStatus.FAILED:
        message = t(outcome.message or "The payment did not go through")
        return _show_invoice(request, token, message, None, 402, chosen=chosen.at(choices.CARD))
    if outcome.status is PaymentStatus.REQUIRES_ACTION:
        return RedirectResponse(_url(token, f"/payments/{outcome.payment_id}/authenticate", t.lang), status_code=303)
    if outcome.status is PaymentStatus.STALE:
        message = t("This invoice was updated before your payment went through. That payment is refunded; please review the new total.")
        return _show_invoice(request, token, message, None, 409)
    return RedirectResponse(_url(token, f"/payments/{outcome.payment_id}", t.lang), status_code=303)


@router.post("/pay/{token}/promo")
async def promo(request: Request, token: str) -> Response:
    return await _handle_form(request, token, _promo)


def _promo(request: Request, token: str, form: FormData) -> Response:
    found, t = _posted_to(request, token, form)
    if found.state is not LinkState.PAYABLE:
        return RedirectResponse(_url(token, lang=t.lang), status_code=303)
    version = form_text(form, "version", 12)
    code = form_text(form, "promo_code", 40)
    if PROMO_ATTEMPTS.hit(hash_token(token)) > 0:
        # Codes are short words: a link must not become a way to try the store's codes one by one.
        message = t("Too many promo codes were tried on this link. Please try again later.")
        return _show_invoice(request, token, message, None, 429, chosen=choices.NOTHING.at(choices.PROMO))
    try:
        payments.apply_promo_code(get_db(request), hash_token(token), code, int(version) if version.isdigit() else -1)
    except payments.PaymentRefused as exc:
        return _show_invoice(request, token, t(exc.message), None, 400, chosen=choices.NOTHING.at(choices.PROMO))
    return _show_invoice(request, token, None, t("Promo code {code} applied", code=code.upper()))


@router.post("/pay/{token}/cards/{card_id}/{action}")
async def manage_card(request: Request, token: str, card_id: str, action: str) -> Response:
    if action not in ("remove", "default"):
        raise HTTPException(404)
    return await _handle_form(request, token, _manage_card, card_id, action)


def _manage_card(request: Request, token: str, card_id: str, action: str, form: FormData) -> Response:
    found, t = _posted_to(request, token, form)
    if found.state is not LinkState.PAYABLE or found.store is None or found.row is None:
        return RedirectResponse(_url(token, lang=t.lang), status_code=303)
    gateway = payments.gateway_directory(request.app.state).for_store(found.store)
    change = remove_card if action == "remove" else make_default
    try:
        change(get_db(request), gateway, found.row.id, card_id)
    except LookupError:
        raise HTTPException(404) from None
    except GatewayError as exc:
        return _show_invoice(request, token, t(exc.message), None, 502)
    notice = t("Card removed") if action == "remove" else t("Default card updated")
    return _show_invoice(request, token, None, notice)


# -- after paying -----------------------------------------------------------------------------------------
@router.get("/pay/{token}/payments/{payment_id}")
async def receipt(request: Request, token: str, payment_id: str) -> Response:
    return await _in_thread(_receipt, request, token, payment_id, None)


def _receipt(
    request: Request,
    token: str,
    payment_id: str,
    error: str | None,
    status_code: int = 200,
    emailing: ReceiptForm | None = None,
) -> Response:
    with get_db(request).read() as session:
        found = views.find(session, token)
        t = _translator(request, found)
        if found.row is None or found.settings is None:
            return _inactive(request, t)
        try:
            payment, _ = payments.payment_for_token(session, hash_token(token), payment_id)
        except LookupError:
            return _inactive(request, t)
        status = PaymentStatus(payment.status)
        if status is PaymentStatus.REQUIRES_ACTION:
            return RedirectResponse(_url(token, f"/payments/{payment_id}/authenticate", t.lang), status_code=303)
        if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            return RedirectResponse(_url(token, lang=t.lang), status_code=303)
        view = views.receipt_view(session, found, payment, t)
        # The itemised part of the receipt: the invoice's lines and totals (no gateway: no saved cards).
        summary = views.page_view(session, found, t, "") if found.balance is not None else None
    return render(
        request,
        "receipt.html" if status is not PaymentStatus.PENDING and status is not PaymentStatus.PROCESSING else "processing.html",
        t,
        status_code=status_code,
        languages=found.settings.languages,
        token=token,
        receipt=view,
        error=error,
        emailing=emailing or blank_form(found, request.app.state.messaging),
        csrf=csrf_token(get_config(request), hash_token(token)),
        url=lambda path="", **q: _url(token, path, t.lang, **q),
        brand=_brand(found, token),
        invoice_date=_invoice_date(found, t),
        view=summary,
    )


@router.get("/pay/{token}/payments/{payment_id}/authenticate")
async def authenticate_page(request: Request, token: str, payment_id: str) -> Response:
    return await _in_thread(_authenticate_page, request, token, payment_id)


def _authenticate_page(request: Request, token: str, payment_id: str) -> Response:
    with get_db(request).read() as session:
        found = views.find(session, token)
        t = _translator(request, found)
        if found.row is None or found.store is None or found.settings is None:
            return _inactive(request, t)
        try:
            payment, _ = payments.payment_for_token(session, hash_token(token), payment_id)
        except LookupError:
            return _inactive(request, t)
        if PaymentStatus(payment.status) is not PaymentStatus.REQUIRES_ACTION:
            return RedirectResponse(_url(token, f"/payments/{payment_id}", t.lang), status_code=303)
        gateway = payments.gateway_directory(request.app.state).for_store(found.store)
        total = t.money(Money(payment.amount_minor + payment.tip_minor, payment.currency))
        card = f"{views.brand_name(payment.card_brand)} •••• {payment.card_last4}"
    integration = gateway.page_integration()
    return render(
        request,
        "authenticate.html",
        t,
        integration=integration,
        languages=found.settings.languages,
        token=token,
        business=without_bidi_controls(found.settings.business_name),
        total=total,
        card=card,
        action_partial=integration.partial.replace("_card.html", "_action.html"),
        brand=_brand(found, token),
        csrf=csrf_token(get_config(request), hash_token(token)),
        url=lambda path="", **q: _url(token, path, t.lang, **q),
        payment_id=payment_id,
    )


@router.post("/pay/{token}/payments/{payment_id}/authenticate")
async def authenticate(request: Request, token: str, payment_id: str) -> Response:
    return await _handle_form(request, token, _authenticate, payment_id)


def _authenticate(request: Request, token: str, payment_id: str, form: FormData) -> Response:
    _found, t = _posted_to(request, token, form)
    fields = {name: form_text(form, name, 100) for name in form if isinstance(name, str) and name not in ("csrf", "lang")}
    try:
        outcome = payments.confirm_action(
            get_db(request), payments.gateway_directory(request.app.state), hash_token(token), payment_id, fields
        )
    except LookupError:
        return _inactive(request, t)
    except payments.PaymentRefused as exc:  # the invoice moved on while the client was at their bank
        return _show_invoice(request, token, t(exc.message), None, exc.status)
    return _after_outcome(token, outcome, t, request)


@router.post("/pay/{token}/payments/{payment_id}/tip")
async def add_tip(request: Request, token: str, payment_id: str) -> Response:
    return await _handle_form(request, token, _add_tip, payment_id)


def _add_tip(request: Request, token: str, payment_id: str, form: FormData) -> Response:
    found, t = _posted_to(request, token, form)
    if found.balance is None:
        return _inactive(request, t)
    try:
        choice = _tip_choice(form, found.balance.currency, t.locale)
        outcome = payments.add_tip(get_db(request), payments.gateway_directory(request.app.state), hash_token(token), payment_id, choice)
    except TipError as exc:
        return _receipt(request, token, payment_id, t(str(exc)), 400)
    except payments.PaymentRefused as exc:
        return _receipt(request, token, payment_id, t(exc.message), exc.status)
    if outcome.status is PaymentStatus.FAILED:
        return _receipt(request, token, payment_id, t(outcome.message or "The payment did not go through"), 402)
    if outcome.status is PaymentStatus.REQUIRES_ACTION:  # the bank asks the client, who is right here
        return RedirectResponse(_url(token, f"/payments/{outcome.payment_id}/authenticate", t.lang), status_code=303)
    return RedirectResponse(_url(token, f"/payments/{payment_id}", t.lang), status_code=303)


@router.post("/pay/{token}/payments/{payment_id}/receipt")
async def email_receipt(request: Request, token: str, payment_id: str) -> Response:
    """The confirmation page's "email me a receipt" (see :mod:`posdesk.companion.pay.receipt`)."""
    form = await checked_form(request, token)
    found = await _in_thread(_find, request, token)
    t = _translator(request, found, form_text(form, "lang", 5) or None)
    outcome = await send_receipt(
        get_db(request), request.app.state.messaging, token, payment_id, form_text(form, "email", 400), t
    )
    if outcome is None:
        return _inactive(request, t)
    return await _in_thread(_receipt, request, token, payment_id, None, outcome.status_code, outcome.form)


def install(app: Any) -> None:
    """Called by ``create_app``: the app's gateway directory, made before the first request."""
    payments.gateway_directory(app.state)
