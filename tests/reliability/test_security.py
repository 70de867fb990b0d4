"""Cases 19-24: the payment page and the POS API against guessing, leaks, hostile text, other sites,
other invoices and other stores.

A real companion on loopback (uvicorn in a thread), and for the log check (20) the companion as its own
process logging at DEBUG. Uvicorn trusts ``X-Forwarded-*`` from loopback only (a reverse proxy on the
same host), which these tests use to be "another address" and "over HTTPS".
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from posdesk.companion.models import Invoice
from posdesk.core.catalog import ItemKind
from posdesk.core.invoice import InvoiceClient
from posdesk.core.links import hash_token, new_link_token
from posdesk.core.money import Money
from posdesk.core.ticket import TicketLine
from posdesk.messaging.email_html import text_to_html
from posdesk.pos.message_templates import INVOICE_EMAIL, INVOICE_SMS, INVOICE_SUBJECT, fill_template
from tests.companion.conftest import Companion, PairedTerminal, invoice_upload, put_invoice, service_line
from tests.reliability.programs import CARD, CompanionProcess, csrf_of, pay_link, prepare_store
from tests.till import Till

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "rtl": "Ana \u202egnp.exe",
    "long": "A" * 10_000,
}
LONGEST_NAME = 500  # what a ticket line's name or note may hold (posdesk.core); longer is refused


def uploaded(companion: Companion, **kwargs: Any) -> dict[str, Any]:
    body = invoice_upload(**kwargs)
    answer = put_invoice(companion.api, body)
    assert answer.status_code == 200, answer.text
    return body


def addressed(companion: Companion, address: str) -> httpx.Client:
    """A client the companion sees as coming from ``address`` (through the loopback proxy headers)."""
    return companion.client(headers={"X-Forwarded-For": address}, follow_redirects=False)


# -- (19) guessing tokens ------------------------------------------------------------------------------------
def test_unknown_expired_and_revoked_tokens_get_byte_identical_answers(companion: Companion) -> None:
    expired = uploaded(companion)
    revoked = uploaded(companion)
    assert companion.api.post(f"/api/v1/invoices/{revoked['invoice_id']}/revoke").status_code == 200
    with companion.db.write() as session:
        session.get(Invoice, expired["invoice_id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    tokens = {"unknown": new_link_token(), "expired": expired["link_token"], "revoked": revoked["link_token"]}
    for path in ("", "/status", "/payments/" + "0" * 32, "/payments/" + "0" * 32 + "/authenticate"):
        answers = {}
        for kind, token in tokens.items():
            response = addressed(companion, f"10.0.0.{len(answers) + 1}").get(f"/pay/{token}{path}")
            answers[kind] = (response.status_code, response.content, response.headers.get("content-type"))
        assert len(set(answers.values())) == 1, f"{path or '/'}: {[(k, v[0]) for k, v in answers.items()]}"
        assert answers["unknown"][0] == 404
    for kind, token in tokens.items():  # a form posted to any of them: refused the same way
        posted = addressed(companion, "10.0.1.1").post(f"/pay/{token}/pay", data={"csrf": "0" * 64, "version": "1", **CARD})
        answers[kind] = (posted.status_code, posted.content, None)
    assert len({answers[k] for k in tokens}) == 1


def test_guessing_is_limited_per_address_and_finds_no_valid_token(companion: Companion) -> None:
    uploaded(companion)  # a real link exists to be found
    guesser = addressed(companion, "203.0.113.7")
    found = 0
    until_limited = 0
    started = time.monotonic()
    for _ in range(companion.config.rate_limit_per_minute * 2):
        answer = guesser.get(f"/pay/{new_link_token()}")
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
            break
        until_limited += 1
        found += answer.status_code != 404
    assert found == 0
    # A minute's allowance at once, plus what refilled while guessing (the limit is per minute).
    refilled = (time.monotonic() - started) * companion.config.rate_limit_per_minute / 60
    assert companion.config.rate_limit_per_minute <= until_limited <= companion.config.rate_limit_per_minute + refilled + 1
    # Another address is not held back by the guesser.
    assert addressed(companion, "198.51.100.9").get(f"/pay/{new_link_token()}").status_code == 404
    print(f"\nFIGURE case 19: requests until limited {until_limited}, valid tokens found {found}")


# -- (20) tokens: strong, hashed at rest, not logged, no Referer ------------------------------------------------
def test_a_link_token_carries_128_bits_and_is_stored_only_hashed(companion: Companion, tmp_path: Path) -> None:
    till = Till(tmp_path / "pos.db", companion.url, companion.terminal.credential, companion.terminal.store_id)
    try:
        till.start()
        ticket = till.new_ticket()
        token = till.send(ticket.id).token
        from tests.waiting import wait_until

        wait_until(lambda: till.pending() == 0, what="the upload")
    finally:
        till.close()
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert pay_link(companion.url, token).status_code == 303
    from sqlalchemy.engine import make_url

    companion.db.engine.dispose()
    database = Path(make_url(companion.db.url).database or "")
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert token.encode() not in stored, "the token is in the companion's database"
    assert hash_token(token).encode() in stored


def test_no_token_in_the_companion_logs_and_no_referrer(tmp_path: Path) -> None:
    database_url = f"sqlite+pysqlite:///{tmp_path / 'companion.db'}"
    terminal = prepare_store(database_url)
    process = CompanionProcess(database_url, tmp_path / "companion.log", POSDESK_LOG_LEVEL="DEBUG")
    process.start()
    try:
        body = invoice_upload()
        token = body["link_token"]
        with httpx.Client(base_url=process.url, headers=terminal.headers, timeout=30) as api:
            assert api.put(f"/api/v1/invoices/{body['invoice_id']}", json=body).status_code == 200
        with httpx.Client(base_url=process.url, timeout=30) as phone:
            page = phone.get(f"/pay/{token}?lang=es")
            assert page.headers["referrer-policy"] == "no-referrer"
            assert '<meta name="referrer" content="no-referrer">' in page.text
            paid = phone.post(f"/pay/{token}/pay", data={"csrf": csrf_of(page.text), "version": "1", "tip": "2", **CARD})
            assert paid.status_code == 303
            receipt = phone.get(paid.headers["location"])
            assert receipt.status_code == 200 and receipt.headers["referrer-policy"] == "no-referrer"
            phone.get(f"/pay/{token}/status")
            phone.get(f"/pay/{token[:-1]}x")  # a mistyped link
    finally:
        process.stop()
    log = process.log()
    assert "/pay/[token]" in log and '"POST /pay/[token]/pay" 303' in log, "the requests were logged"
    assert token not in log and token[:-1] not in log
    assert hash_token(token) not in log


# -- (21) hostile text ------------------------------------------------------------------------------------------
def hostile_invoice(companion: Companion) -> dict[str, Any]:
    lines = [
        TicketLine(
            id=f"l{n}",
            item_id=f"i{n}",
            kind=ItemKind.PRODUCT,
            name=text[:LONGEST_NAME],
            unit_price=Money(1000, "USD"),
            note=text[:LONGEST_NAME],
        )
        for n, text in enumerate(HOSTILE.values())
    ]
    client = InvoiceClient(id="c-hostile", name=HOSTILE["script"] + HOSTILE["attribute"] + HOSTILE["rtl"])
    return uploaded(companion, lines=lines, client=client)


def test_a_10_kb_name_is_refused_at_upload_and_nothing_is_stored(companion: Companion) -> None:
    body = invoice_upload()
    body["lines"][0]["name"] = HOSTILE["long"]
    refused = put_invoice(companion.api, body)
    assert refused.status_code == 422 and "500" in refused.text
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").status_code == 404


def test_hostile_names_and_notes_are_text_on_the_page(companion: Companion) -> None:
    body = hostile_invoice(companion)
    page = companion.client().get(f"/pay/{body['link_token']}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html or "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "A" * LONGEST_NAME in html  # shown whole, as text
    # The override stays text inside the element of its name: an HTML element ends its effect, so
    # it cannot flip an amount (no figure follows it inside its element).
    for found in re.finditer("\u202e", html):
        rest_of_element = html[found.end() : html.index("<", found.end())]
        assert "$" not in rest_of_element and not re.search(r"\d+\.\d\d", rest_of_element)
    assert "script-src 'self'" in page.headers["content-security-policy"] or "default-src 'self'" in page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"].split("script-src")[-1].split(";")[0]


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_names_in_emails_and_sms_are_text(hostile: str) -> None:
    link = "https://pay.example/pay/" + new_link_token()
    values = {"first_name": hostile, "business": hostile, "amount": "$10.00", "link": link}
    # What the Communicator fills in on the POS, and the HTML part the companion's email channel makes.
    subject, text, sms = (fill_template(t, values) for t in (INVOICE_SUBJECT, INVOICE_EMAIL, INVOICE_SMS))
    page = text_to_html(text, link=link, business=hostile)
    # The HTML part is the only one a client renders: there the name is escaped text.
    assert "<script>" not in page and "<img src=x" not in page
    # Subject, plain text and SMS are text by nature; the bidi override is taken out of all of them.
    for part in (subject, text, page, sms):
        assert "\u202e" not in part
    assert "\n" not in subject and len(subject) <= 200
    assert link in text and link in page and link in sms
    assert len(sms) < 1000, "a 10 kB name does not make a 10 kB text message"


# -- (22) headers on every page, other sites ------------------------------------------------------------------
def every_kind_of_answer(companion: Companion) -> dict[str, httpx.Response]:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    answers = {"page": phone.get(f"/pay/{token}"), "status": phone.get(f"/pay/{token}/status")}
    paid = phone.post(f"/pay/{token}/pay", data={"csrf": csrf_of(answers["page"].text), "version": "1", "tip": "none", **CARD})
    answers.update(
        paid_redirect=paid,
        receipt=phone.get(paid.headers["location"]),
        paid_page=phone.get(f"/pay/{token}"),
        inactive=phone.get(f"/pay/{new_link_token()}"),
        css=phone.get("/static/pay/pay.css"),
        js=phone.get("/static/pay/pay.js"),
        health=phone.get("/healthz"),
        api=companion.api.get("/api/v1/events"),
        api_401=phone.get("/api/v1/events"),
        not_found=phone.get("/nowhere"),
        wrong_method=phone.delete("/healthz"),
        cross_site=phone.post(f"/pay/{token}/pay", data={"csrf": "x"}, headers={"Origin": "https://evil.example"}),
        webhook_400=phone.post("/webhooks/simulator", content=b"{}"),
        too_big=companion.api.put("/api/v1/settings", content=b"x" * (companion.config.max_body_bytes + 1)),
    )
    return answers


def test_security_headers_on_every_answer(companion: Companion) -> None:
    for what, answer in every_kind_of_answer(companion).items():
        headers = answer.headers
        csp = headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp, what
        assert headers.get("x-content-type-options") == "nosniff", what
        assert headers.get("referrer-policy") == "no-referrer", what
        assert "strict-transport-security" not in headers, f"{what}: HSTS over plain HTTP"


def test_hsts_only_over_https_behind_a_proxy_on_the_same_host(companion: Companion) -> None:
    token = uploaded(companion)["link_token"]
    over_https = companion.client(headers={"X-Forwarded-Proto": "https"}).get(f"/pay/{token}")
    assert over_https.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "strict-transport-security" not in companion.client().get(f"/pay/{token}").headers


def test_cross_site_posts_are_refused_and_charge_nothing(companion: Companion) -> None:
    body = uploaded(companion)
    token = body["link_token"]
    phone = companion.client(follow_redirects=False)
    csrf = csrf_of(phone.get(f"/pay/{token}").text)
    fields = {"csrf": csrf, "version": "1", "tip": "none", **CARD}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        assert phone.post(f"/pay/{token}/pay", data=fields, headers=headers).status_code == 403, headers
    assert phone.post(f"/pay/{token}/pay", data={**fields, "csrf": secrets.token_hex(32)}).status_code == 403
    assert companion.api.get(f"/api/v1/invoices/{body['invoice_id']}").json()["status"] != "paid"
    assert phone.post(f"/pay/{token}/pay", data=fields, headers={"Origin": companion.url, "Sec-Fetch-Site": "same-origin"}).status_code == 303


# -- (23) one link, another invoice ---------------------------------------------------------------------------
def test_a_token_cannot_reach_another_invoices_payment_or_another_clients_cards(companion: Companion) -> None:
    a = uploaded(companion, client=InvoiceClient(id="client-a", name="Ana"))
    b = uploaded(companion, client=InvoiceClient(id="client-b", name="Bo"))
    phone = companion.client(follow_redirects=False)
    page_b = phone.get(f"/pay/{b['link_token']}").text
    paid_b = phone.post(
        f"/pay/{b['link_token']}/pay", data={"csrf": csrf_of(page_b), "version": "1", "tip": "none", "save_card": "on", **CARD}
    )
    payment_b = paid_b.headers["location"].rsplit("/", 1)[1]
    unknown = phone.get(f"/pay/{new_link_token()}")
    token_a = a["link_token"]
    for path in (f"/payments/{payment_b}", f"/payments/{payment_b}/authenticate"):
        answer = phone.get(f"/pay/{token_a}{path}")
        assert (answer.status_code, answer.content) == (unknown.status_code, unknown.content), path
    page_a = phone.get(f"/pay/{token_a}").text
    csrf_a = csrf_of(page_a)
    from posdesk.companion.models import SavedCard

    with companion.db.read() as session:
        [card_b] = [c.id for c in session.query(SavedCard).all()]
    assert card_b not in page_a, "B's card is not offered on A's link"
    for action in ("remove", "default"):
        assert phone.post(f"/pay/{token_a}/cards/{card_b}/{action}", data={"csrf": csrf_a}).status_code == 404
    used = phone.post(f"/pay/{token_a}/pay", data={"csrf": csrf_a, "version": "1", "tip": "none", "card": card_b})
    assert used.status_code == 400 and "This card is not available" in used.text
    tip = phone.post(f"/pay/{token_a}/payments/{payment_b}/tip", data={"csrf": csrf_a, "tip": "1"})
    assert tip.status_code in (400, 404) and companion.api.get(f"/api/v1/invoices/{a['invoice_id']}").json()["status"] != "paid"


# -- (24) the POS API: no credential, another store's --------------------------------------------------------
def test_every_pos_api_route_needs_a_credential(companion: Companion) -> None:
    anonymous = companion.client()
    spec = anonymous.get("/api/v1/openapi.json").json()
    tried = 0
    for path, operations in spec["paths"].items():
        if path == "/api/v1/terminals/pair":
            continue
        concrete = re.sub(r"\{[^}]+\}", "0" * 32, path)
        for method in operations:
            for headers in ({}, {"Authorization": "Bearer pdt_" + secrets.token_urlsafe(32)}, {"Authorization": "Basic eDp5"}):
                answer = anonymous.request(method.upper(), concrete, headers=headers, json={})
                assert answer.status_code == 401, f"{method.upper()} {path} {headers}: {answer.status_code}"
                tried += 1
    assert tried >= 30
    print(f"\nFIGURE case 24: {tried} calls without a valid credential, all 401")


def test_another_stores_credential_sees_none_of_this_stores_data(companion: Companion, other_terminal: PairedTerminal) -> None:
    body = uploaded(companion)
    invoice_id = body["invoice_id"]
    phone = companion.client(follow_redirects=False)
    page = phone.get(f"/pay/{body['link_token']}").text
    paid = phone.post(f"/pay/{body['link_token']}/pay", data={"csrf": csrf_of(page), "version": "1", "tip": "none", **CARD})
    payment_id = paid.headers["location"].rsplit("/", 1)[1]
    other = companion.client(headers=other_terminal.headers)
    assert other.get(f"/api/v1/invoices/{invoice_id}").status_code == 404
    assert other.post(f"/api/v1/invoices/{invoice_id}/revoke").status_code == 404
    assert other.put(f"/api/v1/invoices/{invoice_id}", json={**body, "link_token": new_link_token()}).status_code in (404, 422)
    assert other.post(f"/api/v1/payments/{payment_id}/refund", json={"amount": 100}).status_code == 404
    assert other.get("/api/v1/clients/client-1/messages").json().get("messages", []) == []
    events = other.get("/api/v1/events", params={"after": 0}).json()["events"]
    assert all(e.get("invoice_id") != invoice_id for e in events)
    assert companion.api.get(f"/api/v1/invoices/{invoice_id}").json()["status"] == "paid"
    assert service_line  # the suite's line maker stays importable for the hostile invoice
