"""Messaging basics: forward-only delivery states, consent checks, names made safe, channel config."""

from __future__ import annotations

import pytest

from posdesk.core.client import Client
from posdesk.messaging import MessagingConfigError, build_channels
from posdesk.messaging.base import (
    Channel,
    ChannelKind,
    ConsentMissing,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
    message_status_advances,
    recipient_address,
    single_line,
)
from posdesk.messaging.email import EmailChannel, SmtpSecurity, SmtpSettings
from posdesk.messaging.sms import SmsProvider, TwilioSettings, TwilioSms

Q, S, D, F = MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED


@pytest.mark.parametrize(
    ("current", "new", "advances"),
    [
        (Q, S, True),
        (Q, D, True),
        (Q, F, True),
        (S, D, True),
        (S, F, True),  # undelivered after the carrier took it
        (S, Q, False),  # a late "queued" callback
        (D, S, False),
        (D, F, False),  # the handset's receipt wins over a late failure
        (F, D, False),
        (F, S, False),
        (S, S, False),
    ],
)
def test_message_status_only_moves_forward(
    current: MessageStatus, new: MessageStatus, advances: bool
) -> None:
    assert message_status_advances(current, new) is advances


def test_single_line_removes_line_breaks_controls_and_bidi_overrides() -> None:
    assert single_line("Eve\r\nBcc: x@y\t\u202eevil\u2066", 100) == "Eve Bcc: x@y evil"
    assert single_line("A" * 10_000, 20) == "A" * 17 + "..."
    assert single_line("Zoë 😀 Łukasz", 50) == "Zoë 😀 Łukasz"  # real names survive


def test_recipient_address_refuses_without_consent_with_a_reason() -> None:
    ada = Client(id="c1", first_name="Ada", last_name="King", phone="+15550102000", email="ada@example.com")
    with pytest.raises(ConsentMissing, match="Ada King has not agreed to receive text messages"):
        recipient_address(ada, ChannelKind.SMS)
    with pytest.raises(ConsentMissing, match="Ada King has not agreed to receive emails"):
        recipient_address(ada, ChannelKind.EMAIL)
    consenting = Client(
        id="c1", first_name="Ada", phone="+15550102000", sms_consent=True, email_consent=False
    )
    assert recipient_address(consenting, ChannelKind.SMS) == "+15550102000"
    with pytest.raises(InvalidAddress, match="no email address"):
        recipient_address(consenting, ChannelKind.EMAIL)


def test_outgoing_message_needs_id_text_and_http_link() -> None:
    base = {
        "message_id": "m1", "store_id": "s1", "business_name": "B", "client_id": "c1",
        "client_name": "Ada", "to": "a@example.com", "text": "Hi",
    }  # fmt: skip
    OutgoingMessage(**base, link="https://x.example/pay/t")
    with pytest.raises(ValueError, match="message_id"):
        OutgoingMessage(**{**base, "message_id": " "})
    with pytest.raises(ValueError, match="text"):
        OutgoingMessage(**{**base, "text": ""})
    with pytest.raises(ValueError, match="link"):
        OutgoingMessage(**base, link="javascript:alert(1)")


def test_secrets_never_appear_in_repr() -> None:
    smtp = SmtpSettings(
        host="smtp.example", from_address="a@example.com", username="u", password="hunter2-secret"
    )
    twilio = TwilioSettings(account_sid="AC1", auth_token="tok-secret-123", from_number="+15005550006")
    assert "hunter2-secret" not in repr(smtp) and "hunter2-secret" not in repr(EmailChannel(smtp))
    assert "tok-secret-123" not in repr(twilio) and "tok-secret-123" not in repr(TwilioSms(twilio))


def test_login_over_plain_smtp_is_refused_unless_local() -> None:
    with pytest.raises(ValueError, match="starttls"):
        SmtpSettings(
            host="mail.example", from_address="a@example.com", security=SmtpSecurity.NONE, username="u"
        )
    SmtpSettings(host="127.0.0.1", from_address="a@example.com", security=SmtpSecurity.NONE, username="u")


def test_build_channels_makes_only_configured_channels() -> None:
    assert build_channels({}) == {}
    channels = build_channels(
        {
            "POSDESK_SMTP_HOST": "smtp.example",
            "POSDESK_SMTP_PORT": "2525",
            "POSDESK_SMTP_SECURITY": "tls",
            "POSDESK_SMTP_USERNAME": "user",
            "POSDESK_SMTP_PASSWORD": "pw",
            "POSDESK_SMTP_FROM": "invoices@salon.example",
            "POSDESK_SMS_PROVIDER": "twilio",
            "POSDESK_TWILIO_ACCOUNT_SID": "AC123",
            "POSDESK_TWILIO_AUTH_TOKEN": "token",
            "POSDESK_TWILIO_FROM": "+15005550006",
            "POSDESK_TWILIO_BASE_URL": "http://127.0.0.1:9",
            "POSDESK_SMS_DEFAULT_COUNTRY_CODE": "1",
        },
        status_callback_url="https://companion.example/webhooks/twilio/status",
    )
    assert set(channels) == {"email", "sms"}
    email, sms = channels["email"], channels["sms"]
    assert isinstance(email, Channel) and isinstance(sms, SmsProvider)
    assert isinstance(email, EmailChannel) and isinstance(sms, TwilioSms)
    assert (email.settings.port, email.settings.security) == (2525, SmtpSecurity.TLS)
    assert sms.settings.messages_url == "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json"
    assert sms.settings.status_callback_url == "https://companion.example/webhooks/twilio/status"
    assert sms.normalize_address("(555) 010-2000") == "+15550102000"
    assert set(build_channels({"POSDESK_SMTP_HOST": "h", "POSDESK_SMTP_FROM": "a@b.example"})) == {"email"}


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"POSDESK_SMTP_HOST": "smtp.example"}, "POSDESK_SMTP_FROM"),
        ({"POSDESK_SMTP_HOST": "h", "POSDESK_SMTP_FROM": "a@b.example", "POSDESK_SMTP_SECURITY": "ssl"}, "SECURITY"),
        ({"POSDESK_SMTP_HOST": "h", "POSDESK_SMTP_FROM": "a@b.example", "POSDESK_SMTP_PORT": "x"}, "PORT"),
        ({"POSDESK_SMTP_HOST": "h", "POSDESK_SMTP_FROM": "not-an-address"}, "from address"),
        ({"POSDESK_SMS_PROVIDER": "nexmo"}, "not supported"),
        ({"POSDESK_SMS_PROVIDER": "twilio", "POSDESK_TWILIO_ACCOUNT_SID": "AC1"}, "POSDESK_TWILIO_AUTH_TOKEN"),
        ({"POSDESK_SMS_PROVIDER": "twilio", "POSDESK_TWILIO_ACCOUNT_SID": "AC1", "POSDESK_TWILIO_AUTH_TOKEN": "t"},
         "POSDESK_TWILIO_FROM"),
    ],
)  # fmt: skip
def test_half_configured_channel_is_an_error_naming_what_to_set(
    config: dict[str, str], complaint: str
) -> None:
    with pytest.raises(MessagingConfigError, match=complaint):
        build_channels(config)
