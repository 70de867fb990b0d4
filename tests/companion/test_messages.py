"""The Communicator on the companion: POST /api/v1/messages through a real SMTP server and a fake Twilio
API on loopback, signed status callbacks, STOP replies, consent refusals, limits and idempotency.

:func:`communicator_companion` is also used by the GUI and end-to-end Communicator tests.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from posdesk.companion.app import create_app
from posdesk.companion.communicator import INBOUND_PATH
from posdesk.messaging import email_settings, sms_settings
from posdesk.messaging.limits import LimitPolicy, MessageLimits
from tests.companion.conftest import PairedTerminal, add_store, demo_config
from tests.fakes.serve import serve_app
from tests.fakes.twilio_api import FAILED_NUMBER, FakeTwilio
from tests.plugins.smtp import SmtpTestServer
from tests.waiting import free_port, wait_until

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'





@dataclass
class CommunicatorCompanion:
    app: Any
    url: str
    terminal: PairedTerminal
    api: httpx.Client
    twilio: FakeTwilio

    def events(self, type_: str) -> list[dict[str, Any]]:
        body = self.api.get("/api/v1/events", params={"after": 0, "limit": 500}).json()
        return [e for e in body["events"] if e["type"] == type_]

    def statuses(self, message_id: str) -> list[str]:
        return [
            e["data"]["status"]
            for e in self.events("message.status")
            if e["data"]["message_id"] == message_id
        ]


def messaging_env(smtp: SmtpTestServer, twilio: FakeTwilio, twilio_url: str) -> dict[str, str]:
    return {
        "POSDESK_SMTP_HOST": smtp.hostname,
        "POSDESK_SMTP_PORT": str(smtp.port),
        "POSDESK_SMTP_SECURITY": "none",
        "POSDESK_SMTP_FROM": "invoices@salon.example",
        "POSDESK_SMS_PROVIDER": "twilio",
        "POSDESK_TWILIO_ACCOUNT_SID": twilio.account_sid,
        "POSDESK_TWILIO_AUTH_TOKEN": twilio.auth_token,
        "POSDESK_TWILIO_FROM": twilio.from_number,
        "POSDESK_TWILIO_BASE_URL": twilio_url,
    }


@contextlib.contextmanager
def communicator_companion(
    db_file: Path,
    smtp: SmtpTestServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    port: int | None = None,
    terminal: PairedTerminal | None = None,
) -> Iterator[CommunicatorCompanion]:
    """A companion on loopback with email through ``smtp`` and SMS through a fake Twilio whose callbacks
    reach it (its public URL is its real address, as Twilio signs the URL it calls). Without ``terminal``
    a store "Salon Élan" and a paired terminal are made."""
    port = port or free_port()
    public_url = f"http://127.0.0.1:{port}"
    with (
        FakeTwilio(inbound_webhook_url=public_url + INBOUND_PATH) as twilio,
        serve_app(twilio.app) as twilio_url,
    ):
        env = messaging_env(smtp, twilio, twilio_url)
        config = replace(
            demo_config(f"sqlite+pysqlite:///{db_file}", public_url),
            email=email_settings(env),
            sms=sms_settings(env),
        )
        app = create_app(config)
        try:
            terminal = terminal or add_store(app, name="Salon Élan")
            with (
                serve_app(app, port=port) as url,
                httpx.Client(base_url=url, headers=terminal.headers, timeout=10) as api,
            ):
                yield CommunicatorCompanion(app, url, terminal, api, twilio)
        finally:
            app.state.db.dispose()


@pytest.fixture
def comm(
    tmp_path: Path, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CommunicatorCompanion]:
    with communicator_companion(tmp_path / "companion.db", smtp_server, monkeypatch) as made:
        yield made


def client(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "client-ana",
        "first_name": "Ana",
        "last_name": "Díaz",
        "phone": "+15550102000",
        "email": "ana@example.com",
        "sms_consent": True,
        "email_consent": True,
    }
    return base | changes


LINK = "http://127.0.0.1:9/pay/abcDEF123_-token"


def message(channel: str = "sms", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": uuid.uuid4().hex,
        "client": client(),
        "channel": channel,
        "text": f"Hi Ana, your invoice from Salon Élan for $86.60 is ready. Pay securely here: {LINK}",
        "link": LINK,
        "ticket_id": "ticket-1",
    }
    if channel == "email":
        body["subject"] = "Your invoice from Salon Élan: $86.60"
    return body | changes


def wait_status(comm: CommunicatorCompanion, message_id: str, status: str) -> None:
    wait_until(lambda: status in comm.statuses(message_id), what=f"message {status}")


# -- email ------------------------------------------------------------------------------------------


def test_invoice_email_reaches_the_smtp_server_with_the_link_in_both_parts(
    comm: CommunicatorCompanion, smtp_server: SmtpTestServer
) -> None:
    body = message("email", client=client(first_name=HOSTILE, last_name=""))
    body["text"] = f"Hi {HOSTILE},\n\nYour invoice is ready.\n\nPay securely online:\n{LINK}\n"
    answer = comm.api.post("/api/v1/messages", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"

    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ("ana@example.com",)
    assert received.subject == "Your invoice from Salon Élan: $86.60"
    assert received["To"].addresses[0].addr_spec == "ana@example.com"
    assert len(received["To"].addresses) == 1  # the hostile name stayed a display name
    text = received.body(("plain",))
    html = received.body(("html",))
    assert LINK in text
    assert f'href="{LINK}"' in html
    assert HOSTILE in text  # plain text shows the name as typed
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    wait_status(comm, body["message_id"], "sent")  # email has no delivery receipts: accepted is "sent"


# -- SMS and status callbacks -------------------------------------------------------------------------


def test_sms_goes_to_the_provider_and_signed_callbacks_move_it_to_delivered(
    comm: CommunicatorCompanion,
) -> None:
    body = message("sms")
    assert comm.api.post("/api/v1/messages", json=body).json()["status"] == "queued"

    wait_status(comm, body["message_id"], "delivered")
    [sent] = [r for r in comm.twilio.requests if r.method == "POST"]
    assert sent.form["To"] == "+15550102000"
    assert LINK in sent.form["Body"]
    assert sent.form["StatusCallback"] == comm.url + "/webhooks/twilio/status"
    assert all(c.ok for c in comm.twilio.wait_for_callbacks(3))
    assert comm.statuses(body["message_id"]) == ["queued", "sent", "delivered"]
    [view] = comm.api.get("/api/v1/clients/client-ana/messages").json()["messages"]
    assert (view["message_id"], view["status"], view["channel"]) == (body["message_id"], "delivered", "sms")


def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(comm: CommunicatorCompanion) -> None:
    comm.twilio.auto_callbacks = False
    body = message("sms")
    comm.api.post("/api/v1/messages", json=body)
    sid = wait_until(lambda: next(iter(comm.twilio.messages), None), what="the SMS at the provider")
    wait_until(lambda: _provider_ref_stored(comm, body["message_id"]), what="the sid to be stored")

    forged = comm.twilio.send_status_callback(sid, "failed", error_code="30006", bad_signature=True)
    assert forged.status_code == 400
    assert comm.statuses(body["message_id"]) == ["queued"]

    genuine = comm.twilio.send_status_callback(sid, "delivered")
    assert genuine.ok
    assert comm.statuses(body["message_id"]) == ["queued", "delivered"]
    late = comm.twilio.send_status_callback(sid, "sent")  # late and out of order: ignored
    assert late.ok
    assert comm.statuses(body["message_id"]) == ["queued", "delivered"]


def _provider_ref_stored(comm: CommunicatorCompanion, message_id: str) -> bool:
    from posdesk.companion.models import Message

    with comm.app.state.db.read() as session:
        row = session.get(Message, message_id)
        return bool(row and row.provider_ref)


def test_an_undeliverable_sms_fails_with_the_reason(comm: CommunicatorCompanion) -> None:
    body = message("sms", client=client(phone=FAILED_NUMBER))
    comm.api.post("/api/v1/messages", json=body)
    wait_status(comm, body["message_id"], "failed")
    [failed] = [e for e in comm.events("message.status") if e["data"]["status"] == "failed"]
    assert "cannot receive text messages" in failed["data"]["reason"]
    assert failed["data"]["ticket_id"] == "ticket-1"


# -- consent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "changes", "reason"),
    [
        ("sms", {"sms_consent": False}, "has not agreed to receive text messages"),
        ("email", {"email_consent": False}, "has not agreed to receive emails"),
        ("sms", {"phone": "", "sms_consent": False}, "has no mobile number on file"),
    ],
)
def test_no_consent_is_refused_with_the_reason_and_nothing_is_sent(
    comm: CommunicatorCompanion,
    smtp_server: SmtpTestServer,
    channel: str,
    changes: dict[str, Any],
    reason: str,
) -> None:
    body = message(channel, client=client(**changes))
    answer = comm.api.post("/api/v1/messages", json=body).json()
    assert answer["status"] == "failed"
    assert reason in answer["reason"]
    assert comm.statuses(body["message_id"]) == ["failed"]
    time.sleep(0.3)
    assert comm.twilio.requests == [] and smtp_server.messages == []


def test_stop_reply_withdraws_sms_consent_and_later_texts_are_refused(comm: CommunicatorCompanion) -> None:
    first = message("sms")
    comm.api.post("/api/v1/messages", json=first)
    wait_status(comm, first["message_id"], "delivered")

    assert comm.twilio.send_inbound("Stop", "+15550102000").ok
    [consent] = comm.events("client.consent")
    assert consent["data"] == {"client_id": "client-ana", "sms_consent": False, "email_consent": True}

    # The terminal has not heard yet and still says "consented": the companion refuses anyway.
    second = comm.api.post("/api/v1/messages", json=message("sms")).json()
    assert second["status"] == "failed" and "replied STOP" in second["reason"]

    forged = comm.twilio
    forged.corrupt_next_signatures(1)
    assert forged.send_inbound("START", "+15550102000").status_code == 400
    assert len(comm.events("client.consent")) == 1
    assert comm.twilio.send_inbound("START", "+15550102000").ok
    assert comm.events("client.consent")[-1]["data"]["sms_consent"] is True
    assert comm.api.post("/api/v1/messages", json=message("sms")).json()["status"] == "queued"


# -- idempotency, limits, stores --------------------------------------------------------------------


def test_the_same_message_id_posted_twice_sends_once(
    comm: CommunicatorCompanion, smtp_server: SmtpTestServer
) -> None:
    body = message("email")
    first = comm.api.post("/api/v1/messages", json=body).json()
    second = comm.api.post("/api/v1/messages", json=body).json()
    assert first["message_id"] == second["message_id"]
    smtp_server.wait_for(1)
    wait_status(comm, body["message_id"], "sent")
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1
    assert len(comm.api.get("/api/v1/clients/client-ana/messages").json()["messages"]) == 1


def test_per_client_limit_stops_a_loop(comm: CommunicatorCompanion) -> None:
    comm.app.state.messaging.limits = MessageLimits(LimitPolicy(per_client_per_hour=2))
    answers = [comm.api.post("/api/v1/messages", json=message("sms")).json() for _ in range(4)]
    assert [a["status"] for a in answers] == ["queued", "queued", "failed", "failed"]
    assert "already been sent 2 messages in the last hour" in answers[2]["reason"]


def test_another_store_sees_neither_the_messages_nor_the_ids(comm: CommunicatorCompanion) -> None:
    body = message("email")
    comm.api.post("/api/v1/messages", json=body)
    other = add_store(comm.app, name="Other Store")
    with httpx.Client(base_url=comm.url, headers=other.headers, timeout=10) as api:
        assert api.get("/api/v1/clients/client-ana/messages").json() == {"messages": []}
        assert api.post("/api/v1/messages", json=body).status_code == 404
    assert httpx.post(comm.url + "/api/v1/messages", json=message()).status_code == 401


def test_bad_bodies_are_refused(comm: CommunicatorCompanion) -> None:
    assert comm.api.post("/api/v1/messages", json=message(channel="fax")).status_code == 422
    assert comm.api.post("/api/v1/messages", json=message(text="   ")).status_code == 422
    assert comm.api.post("/api/v1/messages", json=message(message_id="../x")).status_code == 422
    assert comm.api.post("/api/v1/messages", json=message(link="javascript:alert(1)")).status_code == 422


# -- the confirmation page's receipt ----------------------------------------------------------------


def test_a_receipt_email_uses_the_same_channel_once_per_payment_and_keeps_consent(
    comm: CommunicatorCompanion, smtp_server: SmtpTestServer
) -> None:
    import asyncio

    from posdesk.companion.communicator import send_receipt_email

    comm.api.post("/api/v1/messages", json=message("sms", client=client(email_consent=False)))

    def receipt() -> dict[str, Any]:
        return asyncio.run(
            send_receipt_email(
                comm.app.state.db,
                comm.app.state.messaging,
                store_id=comm.terminal.store_id,
                payment_id="pay-1",
                to="ana@example.com",
                subject="Your receipt from Salon Élan",
                text=f"Paid $86.60 with Visa 4242.\n\nThank you, {HOSTILE}",
                client_id="client-ana",
                client_name="Ana Díaz",
            )
        )

    first = receipt()
    assert first["status"] == "sent"
    assert receipt()["message_id"] == first["message_id"]
    [received] = smtp_server.wait_for(1)
    assert received.subject == "Your receipt from Salon Élan" and received.rcpt_tos == ("ana@example.com",)
    assert "<script>" not in received.body(("html",))
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1
    # Asking for a receipt is not consent to the store's emails.
    refused = comm.api.post(
        "/api/v1/messages", json=message("email", client=client(email_consent=False))
    ).json()
    assert refused["status"] == "failed" and "has not agreed to receive emails" in refused["reason"]
    history = comm.api.get("/api/v1/clients/client-ana/messages").json()["messages"]
    assert [m["channel"] for m in history] == ["sms", "email", "email"]
