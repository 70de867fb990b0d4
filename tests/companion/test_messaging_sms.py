"""The Twilio SMS driver against the fake Twilio API over real HTTP, with a webhook receiver that does
what the companion's endpoints must do: verify ``X-Twilio-Signature`` first, then parse."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from posdesk.messaging.base import (
    ChannelRejected,
    ChannelUnavailable,
    ConsentMissing,
    DeliveryUpdate,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
    RateLimited,
    message_status_advances,
)
from posdesk.messaging.limits import LimitPolicy, MessageLimits
from posdesk.messaging.sms import (
    ConsentChange,
    InboundMessage,
    TwilioSettings,
    TwilioSms,
    Unsubscribed,
    parse_inbound,
    parse_status_callback,
    verify_twilio_signature,
)
from posdesk.pos.message_templates import INVOICE_SMS, fill_template
from tests.fakes.serve import serve_app
from tests.fakes.twilio_api import FakeTwilio

LINK = "https://pay.salon.example/pay/Zx81-abc"


@dataclass
class CompanionHooks:
    """Stands in for the companion's two Twilio endpoints (status callback and inbound messages)."""

    auth_token: str
    updates: list[DeliveryUpdate] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        def signed(keep: Callable[[Any], None]) -> Callable[[Request], Awaitable[PlainTextResponse]]:
            """A webhook that checks Twilio's signature first (403 and counted when it is wrong)."""

            async def webhook(request: Request) -> PlainTextResponse:
                form = await request.form()
                if not verify_twilio_signature(
                    str(request.url), form, request.headers.get("X-Twilio-Signature"), self.auth_token
                ):
                    with self.lock:
                        self.rejected += 1
                    return PlainTextResponse("bad signature", status_code=403)
                with self.lock:
                    keep(form)
                return PlainTextResponse("")

            return webhook

        def keep_update(form: Any) -> None:
            update = parse_status_callback(form)
            if update is not None:
                self.updates.append(update)

        status = signed(keep_update)
        inbound = signed(lambda form: self.inbound.append(parse_inbound(form)))
        return Starlette(
            routes=[
                Route("/webhooks/twilio/status", status, methods=["POST"]),
                Route("/webhooks/twilio/inbound", inbound, methods=["POST"]),
            ]
        )

    def state_of(self, provider_ref: str) -> MessageStatus:
        """The message's state after applying the verified updates in arrival order, forward only."""
        state = MessageStatus.QUEUED
        for update in self.updates:
            if update.provider_ref == provider_ref and message_status_advances(state, update.status):
                state = update.status
        return state


@dataclass
class Setup:
    fake: FakeTwilio
    hooks: CompanionHooks
    channel: TwilioSms
    base_url: str


@pytest.fixture
def setup() -> Iterator[Setup]:
    fake = FakeTwilio()
    hooks = CompanionHooks(auth_token=fake.auth_token)
    with serve_app(hooks.app()) as companion_url, serve_app(fake.app) as twilio_url:
        fake.inbound_webhook_url = f"{companion_url}/webhooks/twilio/inbound"
        settings = TwilioSettings(
            account_sid=fake.account_sid,
            auth_token=fake.auth_token,
            from_number=fake.from_number,
            base_url=twilio_url,
            status_callback_url=f"{companion_url}/webhooks/twilio/status",
            default_country_code="1",
            timeout_s=2.0,
        )
        yield Setup(fake, hooks, TwilioSms(settings), twilio_url)
        fake.release_hangs()
    fake.close()


def message(
    to: str = "(555) 010-2000", message_id: str = "msg-1", text: str | None = None
) -> OutgoingMessage:
    body = text or fill_template(
        INVOICE_SMS, {"first_name": "Ada", "business": "Salon Nova", "amount": "$42.50", "link": LINK}
    )
    return OutgoingMessage(
        message_id=message_id, store_id="store-1", business_name="Salon Nova", client_id="c-ada",
        client_name="Ada King", to=to, text=body, link=LINK,
    )  # fmt: skip


def channel_with(setup: Setup, **changes: object) -> TwilioSms:
    """The set-up channel with some settings changed."""
    return TwilioSms(dataclasses.replace(setup.channel.settings, **changes))  # type: ignore[arg-type]


def test_invoice_sms_is_sent_and_delivery_reported_by_verified_callbacks(setup: Setup) -> None:
    result = asyncio.run(setup.channel.send(message()))
    assert result.status is MessageStatus.QUEUED and result.provider_ref.startswith("SM")
    sent = setup.fake.messages[result.provider_ref]
    assert sent["to"] == "+15550102000"  # typed "(555) 010-2000", store country code 1
    assert sent["from"] == setup.fake.from_number
    assert LINK in sent["body"] and sent["body"].startswith("Hi Ada, your invoice from Salon Nova for $42.50")
    create = setup.fake.requests[0]
    assert create.form["StatusCallback"] == setup.channel.settings.status_callback_url
    setup.fake.wait_for_callbacks(3)
    assert [u.status for u in setup.hooks.updates] == [
        MessageStatus.QUEUED,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    ]
    assert setup.hooks.rejected == 0
    assert setup.hooks.state_of(result.provider_ref) is MessageStatus.DELIVERED
    fetched = asyncio.run(setup.channel.fetch(result.provider_ref))
    assert fetched == DeliveryUpdate(result.provider_ref, MessageStatus.DELIVERED)


def test_callback_with_a_bad_signature_is_rejected_and_changes_nothing(setup: Setup) -> None:
    result = asyncio.run(setup.channel.send(message()))
    setup.fake.wait_for_callbacks(3)
    forged = setup.fake.send_status_callback(
        result.provider_ref, "failed", error_code="30008", bad_signature=True
    )
    assert forged.status_code == 403
    assert setup.hooks.rejected == 1
    assert setup.hooks.state_of(result.provider_ref) is MessageStatus.DELIVERED
    # A genuine late callback is accepted but cannot move the state backwards.
    late = setup.fake.send_status_callback(result.provider_ref, "sent")
    assert late.status_code == 200
    assert setup.hooks.state_of(result.provider_ref) is MessageStatus.DELIVERED


def test_signature_covers_every_parameter_and_the_url(setup: Setup) -> None:
    result = asyncio.run(setup.channel.send(message()))
    deliveries = setup.fake.wait_for_callbacks(3)
    last = deliveries[-1]
    token = setup.fake.auth_token
    assert verify_twilio_signature(last.url, last.params, last.signature, token)
    assert setup.channel.verify_request(last.url, last.params, last.signature)
    assert not verify_twilio_signature(
        last.url, {**last.params, "MessageStatus": "failed"}, last.signature, token
    )
    assert not verify_twilio_signature(last.url, {**last.params, "Extra": "1"}, last.signature, token)
    assert not verify_twilio_signature(last.url + "?x=1", last.params, last.signature, token)
    assert not verify_twilio_signature(last.url, last.params, last.signature, "another-token")
    assert not verify_twilio_signature(last.url, last.params, None, token)
    assert not verify_twilio_signature(last.url, last.params, "", token)
    assert result.provider_ref == last.params["MessageSid"]


def test_corrupted_signature_from_the_fake_is_rejected_by_the_companion(setup: Setup) -> None:
    setup.fake.corrupt_next_signatures(1)
    result = asyncio.run(setup.channel.send(message()))
    setup.fake.wait_for_callbacks(3)
    assert setup.hooks.rejected == 1
    assert [u.status for u in setup.hooks.updates] == [MessageStatus.SENT, MessageStatus.DELIVERED]
    assert setup.hooks.state_of(result.provider_ref) is MessageStatus.DELIVERED


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("+15005559003", "phone is unreachable"),
        ("+15005559006", "cannot receive text messages"),
    ],
)
def test_undelivered_and_failed_messages_report_failed_with_a_reason(
    setup: Setup, to: str, reason: str
) -> None:
    result = asyncio.run(setup.channel.send(message(to=to)))
    deliveries = setup.fake.wait_for_callbacks(3 if to.endswith("9003") else 2)
    assert all(d.ok for d in deliveries)
    final = setup.hooks.updates[-1]
    assert final.status is MessageStatus.FAILED
    assert final.reason is not None and reason in final.reason
    assert setup.hooks.state_of(result.provider_ref) is MessageStatus.FAILED


@pytest.mark.parametrize(
    ("to", "error", "reason"),
    [
        ("+15005550001", InvalidAddress, "not valid"),
        ("+15005550009", InvalidAddress, "landline"),
        ("+15005550004", Unsubscribed, "replied STOP"),
    ],
)
def test_twilio_error_codes_become_typed_errors(
    setup: Setup, to: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error) as raised:
        asyncio.run(setup.channel.send(message(to=to)))
    assert reason in str(raised.value)
    # An unsubscribed recipient is a consent problem: the companion records the withdrawal.
    assert isinstance(raised.value, ConsentMissing) is (error is Unsubscribed)
    assert setup.fake.messages == {}


def test_number_that_is_not_a_phone_number_is_refused_before_any_request(setup: Setup) -> None:
    for bad in ("hello", "+12", "555 CALL NOW", "+1 555 010 2000\nBcc"):
        with pytest.raises(InvalidAddress, match="not a mobile number"):
            asyncio.run(setup.channel.send(message(to=bad)))
    assert setup.fake.requests == []


def test_too_long_message_is_refused_before_any_request(setup: Setup) -> None:
    with pytest.raises(ChannelRejected, match="too long"):
        asyncio.run(setup.channel.send(message(text="x" * 1601)))
    assert setup.fake.requests == []


def test_wrong_credentials_are_a_settings_problem_to_retry_after_fixing(setup: Setup) -> None:
    wrong = channel_with(setup, auth_token="wrong")
    with pytest.raises(ChannelUnavailable, match="credentials") as raised:
        asyncio.run(wrong.send(message()))
    assert raised.value.may_have_sent is False


def test_sender_not_on_the_account_is_a_settings_problem(setup: Setup) -> None:
    other = channel_with(setup, from_number="+15550009999")
    with pytest.raises(ChannelUnavailable, match="sender is not set up correctly"):
        asyncio.run(other.send(message()))


def test_messaging_service_sender(setup: Setup) -> None:
    service = channel_with(setup, from_number="", messaging_service_sid=setup.fake.messaging_service_sid)
    result = asyncio.run(service.send(message(to="+15550102000")))
    assert result.status is MessageStatus.QUEUED  # Twilio says "accepted"
    assert setup.fake.requests[-1].form["MessagingServiceSid"] == setup.fake.messaging_service_sid
    assert "From" not in setup.fake.requests[-1].form


@pytest.mark.parametrize(
    ("mode", "may_have_sent", "retry_after"),
    [("http500", True, None), ("http503", False, None), ("http429", False, 1.0)],
)
def test_provider_errors_are_retryable_and_a_retry_succeeds(
    setup: Setup, mode: str, may_have_sent: bool, retry_after: float | None
) -> None:
    setup.fake.fail_next(1, mode)
    with pytest.raises(ChannelUnavailable) as raised:
        asyncio.run(setup.channel.send(message()))
    assert raised.value.may_have_sent is may_have_sent
    assert raised.value.retry_after_s == retry_after
    result = asyncio.run(setup.channel.send(message()))
    assert result.status is MessageStatus.QUEUED
    assert len(setup.fake.messages) == 1


def test_timeout_after_the_provider_took_the_message_says_it_may_have_been_sent(setup: Setup) -> None:
    setup.fake.fail_next(1, "timeout", seconds=10, process=True)
    quick = channel_with(setup, timeout_s=0.3)
    with pytest.raises(ChannelUnavailable, match="did not answer in time") as raised:
        asyncio.run(quick.send(message()))
    assert raised.value.may_have_sent is True
    assert len(setup.fake.messages) == 1  # it was sent: retrying blindly would text the client twice


def test_unreachable_provider_is_retryable_and_nothing_was_sent() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = TwilioSms(
        TwilioSettings(
            account_sid="AC1", auth_token="t", from_number="+15005550006", base_url=f"http://127.0.0.1:{port}"
        )
    )
    with pytest.raises(ChannelUnavailable, match="Could not reach the SMS provider") as raised:
        asyncio.run(channel.send(message(to="+15550102000")))
    assert raised.value.may_have_sent is False


def test_inbound_stop_withdraws_consent_and_start_gives_it_back(setup: Setup) -> None:
    client_number = "+15550102000"
    for body in ("STOP", "stop", " Stop. ", "unsubscribe", "Cancel", "END", "quit", "STOPALL", "stop all"):
        delivery = setup.fake.send_inbound(body, from_number=client_number)
        assert delivery.ok, body
        assert setup.hooks.inbound[-1].consent_change is ConsentChange.WITHDRAWN, body
        assert setup.hooks.inbound[-1].from_address == client_number
    with pytest.raises(Unsubscribed):  # Twilio blocks the number too
        asyncio.run(setup.channel.send(message()))
    setup.fake.send_inbound("START", from_number=client_number)
    assert setup.hooks.inbound[-1].consent_change is ConsentChange.GIVEN
    setup.fake.send_inbound("UNSTOP", from_number=client_number)
    assert setup.hooks.inbound[-1].consent_change is ConsentChange.GIVEN
    assert asyncio.run(setup.channel.send(message())).status is MessageStatus.QUEUED


@pytest.mark.parametrize("body", ["Please stop by at 3", "Thanks!", "yes", "stopped", "HELP"])
def test_ordinary_replies_change_no_consent(setup: Setup, body: str) -> None:
    setup.fake.send_inbound(body, from_number="+15550102000")
    received = setup.hooks.inbound[-1]
    assert received.consent_change is None
    assert received.body == body
    assert received.help_requested is (body == "HELP")


def test_advanced_opt_out_type_is_honoured(setup: Setup) -> None:
    setup.fake.advanced_opt_out = True
    setup.fake.send_inbound("STOP", from_number="+15550102000")
    assert setup.hooks.inbound[-1].consent_change is ConsentChange.WITHDRAWN


def test_forged_inbound_stop_is_rejected(setup: Setup) -> None:
    setup.fake.corrupt_next_signatures(1)
    delivery = setup.fake.send_inbound("STOP", from_number="+15550102000")
    assert delivery.status_code == 403
    assert setup.hooks.inbound == [] and setup.hooks.rejected == 1


def test_a_sending_loop_is_stopped_by_the_limits(setup: Setup) -> None:
    limits = MessageLimits(LimitPolicy(per_client_per_hour=3, per_store_per_minute=30))
    refused: list[str] = []
    for n in range(20):  # a runaway loop with fresh message ids
        msg = message(message_id=f"loop-{n}")
        try:
            limits.acquire(msg.store_id, msg.client_id, msg.message_id)
        except RateLimited as exc:
            refused.append(exc.reason)
            continue
        asyncio.run(setup.channel.send(msg))
    assert len(setup.fake.messages) == 3
    assert len(refused) == 17
    assert refused[0].startswith("This client has already been sent 3 messages in the last hour.")
