"""No call to Stripe or Cloud9 runs while a database write transaction is open (issue 12, invariant 11):
a slow gateway never holds SQLite's one writer (every webhook, every page would wait behind it).

The companion (uvicorn in this process) talks to the fake Stripe and the fake Cloud9 over HTTP; the HTTP
client each driver uses (``stripe.RequestsClient``, ``Cloud9Client.call``) is watched, as is the
webhook verification, and each call made while its thread holds ``Database.write``'s transaction is
reported with its stack. The Simulator's case is in test_ledger_invariants.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy
import stripe

from posdesk.companion.models import Store
from posdesk.companion.payments import gateway_directory, reconcile
from posdesk.gateways.cloud9.client import Cloud9Client
from posdesk.gateways.stripe.driver import StripeGateway
from tests.companion.test_cloud9_page import (  # noqa: F401 - a fixture
    SANDBOX,
    TIMEOUT_CARD,
    Cloud9Shop,
    PayPage,
    _iframe_submit,
    cloud9_shop,
)
from tests.companion.test_ledger_invariants import watch_calls
from tests.companion.test_stripe_companion import StripeStore, stripe_store  # noqa: F401 - a fixture


def test_no_stripe_call_runs_inside_a_write_transaction(
    stripe_store: StripeStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    companion = stripe_store.companion
    calls, inside, stop = watch_calls(
        companion.db.engine,
        monkeypatch,
        [(stripe.RequestsClient, ("request",)), (StripeGateway, ("verify_and_parse_webhook",))],
    )
    try:
        with companion.db.write() as session:  # the watch itself can fail
            session.execute(sqlalchemy.select(Store.id)).all()
            stripe_store.driver().test_connection()
        assert len(inside) == 1
        inside.clear()

        token, _ = stripe_store.invoice()  # a new card, confirmed on the page (prepare, sync)
        paid = stripe_store.pay_new_card(token, save=True)
        assert paid["synced"]["status"] == "succeeded"
        secured, _ = stripe_store.invoice()  # 3-D Secure, then the page's sync
        first = stripe_store.pay_new_card(secured, "pm_card_authenticationRequired")
        assert first["synced"]["status"] == "requires_action"
        stripe_store.fake.complete_action(first["client_secret"].split("_secret_")[0])
        synced = stripe_store.page.post(first["sync_url"], data=stripe_store.form(secured)).json()
        assert synced["status"] == "succeeded"
        saved, _ = stripe_store.invoice()  # a saved card charged on the server
        page = stripe_store.page.get(f"/pay/{saved}").text
        card_id = page.split('name="card" value="')[1].split('"')[0]
        used = stripe_store.page.post(f"/pay/{saved}/pay", data=stripe_store.form(saved, card=card_id))
        assert used.status_code == 303, used.text
        refund = companion.api.post(f"/api/v1/payments/{paid['payment_id']}/refund", json={"amount": 1000})
        assert refund.status_code == 200, refund.text  # a refund, under its claim
        stripe_store.settle()  # Stripe's webhooks, verified and applied
        reconcile.reconcile(companion.db, gateway_directory(companion.app.state), settle_time=timedelta(0))
    finally:
        stop()
    assert "verify_and_parse_webhook" in calls and calls.count("request") > 10
    assert inside == [], "\n\n".join(inside)


def test_no_cloud9_call_runs_inside_a_write_transaction(
    cloud9_shop: Cloud9Shop,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    companion = cloud9_shop.companion
    calls, inside, stop = watch_calls(companion.db.engine, monkeypatch, [(Cloud9Client, ("call",))])
    try:
        with companion.db.write() as session:  # the watch itself can fail
            store = session.get(Store, companion.terminal.store_id)
            assert store is not None
            gateway_directory(companion.app.state).for_store(store).lookup("0" * 32)
        assert len(inside) == 1
        inside.clear()

        body = cloud9_shop.invoice()  # a Sale with the page's token
        page = PayPage(cloud9_shop, body)
        page.open()
        assert page.pay(gw_c9_token=cloud9_shop.card_token(), save_card="on").status_code == 303
        callback = PayPage(cloud9_shop, cloud9_shop.invoice())  # Cloud9's server callback, then the Sale
        callback.open()
        assert 'data-status="success"' in _iframe_submit(callback.frame_src(), SANDBOX)
        assert callback.pay(gw_c9_ref=callback.field("gw_c9_ref")).status_code == 303
        lost = PayPage(cloud9_shop, cloud9_shop.invoice())  # a lost answer, looked up (GetTransInfo)
        lost.open()
        assert lost.pay(gw_c9_token=cloud9_shop.card_token(TIMEOUT_CARD)).status_code == 303
        [paid] = [e for e in cloud9_shop.events("invoice.paid") if e["invoice_id"] == body["invoice_id"]]
        payment_id = paid["data"]["payment"]["id"]
        refund = companion.api.post(f"/api/v1/payments/{payment_id}/refund", json={"amount": 1000})
        assert refund.status_code == 200, refund.text  # a partial Refund by GTRC
        reconcile.reconcile(companion.db, gateway_directory(companion.app.state), settle_time=timedelta(0))
    finally:
        stop()
    assert len(cloud9_shop.events("invoice.paid")) == 3
    assert {"call"} == set(calls) and len(calls) > 5
    assert inside == [], "\n\n".join(inside)
