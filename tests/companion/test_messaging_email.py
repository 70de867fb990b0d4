"""The email channel against a real SMTP server on loopback (aiosmtpd): what the client's mailbox gets."""

from __future__ import annotations

import asyncio
import html
import re
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from posdesk.messaging.base import (
    ChannelRejected,
    ChannelUnavailable,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
)
from posdesk.messaging.email import EmailChannel, SmtpSecurity, SmtpSettings, normalize_email_address
from posdesk.messaging.email_html import text_to_html
from posdesk.pos.message_templates import INVOICE_EMAIL, INVOICE_SUBJECT, fill_template
from tests.plugins.smtp import ReceivedMessage, SmtpTestServer
from tests.waiting import free_port

LINK = "https://pay.salon.example/pay/Zx81-abc_DEF"
HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Eve\r\nBcc: victim@evil.example",
    "Eve\nSubject: free money\n\n<b>body</b>",
    "Mallory \u202eexe.gnp",
    '"Quoted" O\'Brien, Jr. <boss@evil.example>',
    "Zoë Łukasz 山田",
    "A" * 10_000,
]


def invoice(
    first_name: str = "Ada", client_name: str = "Ada King", to: str = "ada@example.com", **kw: Any
) -> OutgoingMessage:
    values = {"first_name": first_name, "business": "Salon Nova", "amount": "$42.50", "link": LINK}
    text = fill_template(INVOICE_EMAIL, values)
    fields: dict[str, Any] = {
        "message_id": "msg-7f3a", "store_id": "store-1", "business_name": "Salon Nova", "client_id": "c-ada",
        "client_name": client_name, "to": to, "subject": fill_template(INVOICE_SUBJECT, values), "text": text,
        "html": text_to_html(text, link=LINK, business="Salon Nova", button_label="Pay $42.50"), "link": LINK,
    }  # fmt: skip
    fields.update(kw)
    return OutgoingMessage(**fields)


def channel_for(server: SmtpTestServer, **settings: Any) -> EmailChannel:
    values: dict[str, Any] = {
        "host": server.hostname,
        "port": server.port,
        "security": SmtpSecurity.NONE,
        "from_address": "invoices@salon.example",
        "from_name": "Salon Nova",
        "timeout_s": 5.0,
    }
    values.update(settings)
    return EmailChannel(SmtpSettings(**values))


def send(channel: EmailChannel, message: OutgoingMessage) -> Any:
    return asyncio.run(channel.send(message))


def test_invoice_email_arrives_with_link_in_both_parts(smtp_server: SmtpTestServer) -> None:
    result = send(channel_for(smtp_server), invoice())
    assert result.status is MessageStatus.SENT  # SMTP accepted; email has no delivery receipts
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.mail_from == "invoices@salon.example"
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]) == "Your invoice from Salon Nova: $42.50"
    assert message["To"].addresses[0].display_name == "Ada King"
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert message["From"].addresses[0].display_name == "Salon Nova"
    assert message["From"].addresses[0].addr_spec == "invoices@salon.example"
    assert message["Message-ID"] == "<posdesk.msg-7f3a@salon.example>" == result.provider_ref
    assert message["Date"].datetime is not None
    assert message["Auto-Submitted"] == "auto-generated"
    text = received.body(("plain",))
    page = received.body(("html",))
    assert LINK in text and "Hi Ada," in text
    assert f'href="{html.escape(LINK)}"' in page
    assert re.search(r'<a href="[^"]+"[^>]*>Pay \$42\.50</a>', page)  # the button


@pytest.mark.parametrize("hostile", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_client_name_is_escaped_in_html_and_harmless_in_headers(
    smtp_server: SmtpTestServer, hostile: str
) -> None:
    send(channel_for(smtp_server), invoice(first_name=hostile, client_name=hostile))
    [received] = smtp_server.wait_for(1)
    message = received.message
    # Exactly the one intended recipient, in the envelope and in the headers.
    assert received.rcpt_tos == ("ada@example.com",)
    assert [a.addr_spec for a in message["To"].addresses] == ["ada@example.com"]
    assert message["Bcc"] is None and message["Cc"] is None
    assert str(message["Subject"]) == "Your invoice from Salon Nova: $42.50"
    # The name shows as one line of text, without the bidi override, at a sane length.
    shown = message["To"].addresses[0].display_name
    assert "\r" not in shown and "\n" not in shown and "\u202e" not in shown
    assert len(shown) <= 78
    header_block = received.raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 998 for line in header_block.split(b"\r\n"))  # RFC 5322 line limit
    # In the HTML part the name is text, not markup.
    page = received.body(("html",))
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "\u202e" not in page
    assert LINK in received.body(("plain",))


def test_non_ascii_names_survive_round_trip(smtp_server: SmtpTestServer) -> None:
    send(channel_for(smtp_server), invoice(first_name="Zoë", client_name="Zoë Łukasz 山田"))
    [received] = smtp_server.wait_for(1)
    assert received.message["To"].addresses[0].display_name == "Zoë Łukasz 山田"
    assert received.raw.split(b"\r\n\r\n", 1)[0].isascii()  # encoded words, no raw 8-bit headers
    assert "Hi Zoë," in received.body(("plain",))


def test_same_message_id_gives_the_same_message_id_header(smtp_server: SmtpTestServer) -> None:
    channel = channel_for(smtp_server)
    first = send(channel, invoice())
    second = send(channel, invoice())
    other = send(channel, invoice(message_id="msg-other"))
    received = smtp_server.wait_for(3)
    assert first.provider_ref == second.provider_ref != other.provider_ref
    assert received[0].message["Message-ID"] == received[1].message["Message-ID"]


def test_plain_text_message_gets_an_escaped_html_part_with_a_button(smtp_server: SmtpTestServer) -> None:
    typed = f"Hi <Ada>, here is your invoice & receipt:\n{LINK}"
    send(channel_for(smtp_server), invoice(text=typed, html=None, subject="Your invoice"))
    [received] = smtp_server.wait_for(1)
    assert received.body(("plain",)).replace("\r\n", "\n").strip() == typed
    page = received.body(("html",))
    assert "Hi &lt;Ada&gt;, here is your invoice &amp; receipt:" in page
    assert page.count(f'href="{html.escape(LINK)}"') == 2  # the visible link and the button


def test_list_unsubscribe_and_reply_to_when_configured(smtp_server: SmtpTestServer) -> None:
    channel = channel_for(
        smtp_server,
        list_unsubscribe="https://salon.example/unsubscribe?c=1",
        reply_to="front-desk@salon.example",
    )
    send(channel, invoice())
    [received] = smtp_server.wait_for(1)
    assert received["List-Unsubscribe"] == "<https://salon.example/unsubscribe?c=1>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Reply-To"].addresses[0].addr_spec == "front-desk@salon.example"


@pytest.mark.parametrize(
    "address",
    ["ada@example.com\r\nBcc: victim@evil.example", "ada@@example.com", "ada", "ada@localhost", "a b@example.com",
     "<ada@example.com>", "ada@example.com, eve@evil.example", ""],
)  # fmt: skip
def test_bad_addresses_are_refused_before_connecting(smtp_server: SmtpTestServer, address: str) -> None:
    with pytest.raises(InvalidAddress, match="not a valid email address"):
        send(channel_for(smtp_server), invoice(to=address))
    assert smtp_server.messages == []


def test_address_is_normalised() -> None:
    assert normalize_email_address("  Ada.King+inv@Example.COM ") == "Ada.King+inv@example.com"
    assert normalize_email_address("zoe@bücher.example") == "zoe@xn--bcher-kva.example"


def test_starttls_required_by_the_server(
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    server = smtp_server_factory(require_starttls=True)
    assert server.cafile is not None
    trusting = ssl.create_default_context(cafile=str(server.cafile))
    send(channel_for(server, security=SmtpSecurity.STARTTLS, ssl_context=trusting), invoice())
    assert server.wait_for(1)[0].rcpt_tos == ("ada@example.com",)
    # Without trusting the self-signed certificate the channel refuses to go on.
    with pytest.raises(ChannelUnavailable, match="secure connection"):
        send(channel_for(server, security=SmtpSecurity.STARTTLS), invoice())


def test_implicit_tls(
    smtp_server_factory: Callable[..., SmtpTestServer], smtp_tls_certificate: tuple[Any, Any]
) -> None:
    cert, key = smtp_tls_certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = smtp_server_factory(ssl_context=server_context)
    trusting = ssl.create_default_context(cafile=str(cert))
    send(channel_for(server, security=SmtpSecurity.TLS, ssl_context=trusting), invoice())
    assert server.wait_for(1)[0].rcpt_tos == ("ada@example.com",)


def test_starttls_setting_never_falls_back_to_clear_text(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(ChannelUnavailable, match="does not offer a secure connection"):
        send(channel_for(smtp_server, security=SmtpSecurity.STARTTLS), invoice())
    assert smtp_server.messages == []


class _Authenticator:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"salon", b"s3cret pass")
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


def test_login_over_starttls(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    server = smtp_server_factory(require_starttls=True, authenticator=_Authenticator(), auth_required=True)
    trusting = ssl.create_default_context(cafile=str(server.cafile))
    good = channel_for(
        server, security=SmtpSecurity.STARTTLS, ssl_context=trusting, username="salon", password="s3cret pass"
    )
    send(good, invoice())
    assert len(server.wait_for(1)) == 1
    bad = channel_for(
        server, security=SmtpSecurity.STARTTLS, ssl_context=trusting, username="salon", password="nope"
    )
    with pytest.raises(ChannelUnavailable, match="refused the login") as raised:
        send(bad, invoice())
    assert "nope" not in str(raised.value)


def test_login_to_a_server_without_auth_is_a_settings_problem(smtp_server: SmtpTestServer) -> None:
    channel = channel_for(smtp_server, username="salon", password="pw")  # loopback: clear text allowed
    with pytest.raises(ChannelUnavailable, match="does not accept a login"):
        send(channel, invoice())
    assert smtp_server.messages == []


class _PickyHandler:
    """Refuses some recipients: permanently (550) or for now (451)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 Accepted"


@pytest.fixture
def picky_server() -> Iterator[Controller]:
    controller = Controller(_PickyHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()




def test_permanent_refusal_is_final_and_temporary_is_retryable(picky_server: Controller) -> None:
    channel = EmailChannel(
        SmtpSettings(
            host="127.0.0.1",
            port=picky_server.port,
            security=SmtpSecurity.NONE,
            from_address="a@salon.example",
        )
    )
    with pytest.raises(ChannelRejected, match=r"refused the address gone@example\.com") as final:
        send(channel, invoice(to="gone@example.com"))
    assert final.value.code == "550"
    with pytest.raises(ChannelUnavailable, match="try again later"):
        send(channel, invoice(to="busy@example.com"))
    assert send(channel, invoice(to="ok@example.com")).status is MessageStatus.SENT


def test_unreachable_server_is_retryable() -> None:
    channel = EmailChannel(
        SmtpSettings(
            host="127.0.0.1", port=free_port(), security=SmtpSecurity.NONE, from_address="a@salon.example",
            timeout_s=2,
        )
    )  # fmt: skip
    with pytest.raises(ChannelUnavailable, match="Could not reach the mail server"):
        send(channel, invoice())


def test_blocking_send_for_callers_without_an_event_loop(smtp_server: SmtpTestServer) -> None:
    result = channel_for(smtp_server).send_blocking(invoice())
    assert result.status is MessageStatus.SENT
    assert isinstance(smtp_server.wait_for(1)[0], ReceivedMessage)
