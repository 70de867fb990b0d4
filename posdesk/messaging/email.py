"""The email channel: SMTP with ``smtplib``, one message per send, text and HTML parts.

Delivery state: SMTP has no delivery receipts. A message is ``sent`` once the store's mail server has
accepted it (answered 250 to DATA); it never becomes ``delivered``. A later bounce goes to the from
address's mailbox, not back to us. 5xx answers are final (:class:`ChannelRejected`), 4xx answers and
network trouble are retryable (:class:`ChannelUnavailable`).

Headers are built with :mod:`email.headerregistry` objects, never by string concatenation: display
names are cleaned (:func:`posdesk.messaging.base.single_line` removes CR/LF and bidi overrides) and
then quoted or RFC 2047-encoded by the library, so a client name cannot add a header or a recipient.

``smtplib`` blocks; :meth:`EmailChannel.send` runs it in a worker thread so the companion's event loop
keeps serving pages while a slow mail server answers.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from posdesk.messaging.base import (
    ChannelKind,
    ChannelRejected,
    ChannelUnavailable,
    InvalidAddress,
    MessageStatus,
    OutgoingMessage,
    SendResult,
    single_line,
)
from posdesk.messaging.email_html import text_to_html

MAX_DISPLAY_NAME = 78
MAX_SUBJECT = 200

# Deliberately narrow: what a cashier types for a client. Quoted local parts, comments and IP-literal
# domains are legal in RFC 5322 and never needed here; refusing them keeps odd input out of headers.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class SmtpSecurity(enum.StrEnum):
    NONE = "none"  # plain SMTP: only for a relay on the same machine or in tests
    STARTTLS = "starttls"  # submission, usually port 587
    TLS = "tls"  # implicit TLS, usually port 465


DEFAULT_PORTS = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How the companion reaches the store's mail server. ``password`` never appears in ``repr``.

    ``ssl_context`` overrides the default certificate checks (tests trust a self-signed certificate
    with it). ``list_unsubscribe`` is an optional ``mailto:`` or ``https:`` address for the
    ``List-Unsubscribe`` header.
    """

    host: str
    from_address: str
    port: int | None = None
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str = ""
    password: str = field(default="", repr=False)
    from_name: str = ""
    reply_to: str = ""
    list_unsubscribe: str = ""
    timeout_s: float = 20.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ValueError("SMTP host is required")
        try:
            normalize_email_address(self.from_address)
        except InvalidAddress as exc:
            raise ValueError(f"SMTP from address: {exc.reason}") from None
        if self.username and self.security is SmtpSecurity.NONE and not _is_loopback(self.host):
            # smtplib would send the password in clear text over the network.
            raise ValueError(
                "SMTP login needs security 'starttls' or 'tls' unless the server is on this machine"
            )
        if self.list_unsubscribe and not self.list_unsubscribe.startswith(("mailto:", "https://")):
            raise ValueError("List-Unsubscribe must be a mailto: or https:// address")

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_email_address(address: str) -> str:
    """``address`` trimmed, domain lower-cased and IDNA-encoded; :class:`InvalidAddress` if unusable."""
    candidate = address.strip()
    problem = InvalidAddress(
        f"{single_line(candidate, 80) or 'An empty address'} is not a valid email address."
    )
    if candidate.count("@") != 1 or any(ch.isspace() or ord(ch) < 32 for ch in candidate):
        raise problem
    local, domain = candidate.split("@")
    if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise problem
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise problem from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise problem
    return f"{local}@{ascii_domain}"


def message_id_header(message_id: str, from_address: str) -> str:
    """The ``Message-ID`` for a posdesk message id: the same id always gives the same header, so a retry
    that reaches the server twice is recognisably one message. Ids that are not plain tokens are hashed."""
    domain = from_address.rsplit("@", 1)[-1]
    token = (
        message_id
        if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", message_id)
        else hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40]
    )
    return f"<posdesk.{token}@{domain}>"


def build_email(
    settings: SmtpSettings, message: OutgoingMessage, *, now: datetime | None = None
) -> EmailMessage:
    """The complete MIME message: ``multipart/alternative`` with text and HTML, and these headers:
    From (display name), To (client name), Reply-To (if set), Subject, Date, Message-ID (from the
    message id), Auto-Submitted, and List-Unsubscribe (if set)."""
    to_address = normalize_email_address(message.to)
    from_address = normalize_email_address(settings.from_address)
    email = EmailMessage(policy=policy.SMTP)
    from_name = single_line(settings.from_name or message.business_name, MAX_DISPLAY_NAME)
    email["From"] = Address(display_name=from_name, addr_spec=from_address)
    email["To"] = Address(
        display_name=single_line(message.client_name, MAX_DISPLAY_NAME), addr_spec=to_address
    )
    if settings.reply_to:
        email["Reply-To"] = Address(addr_spec=normalize_email_address(settings.reply_to))
    subject = message.subject or f"A message from {message.business_name}"
    email["Subject"] = single_line(subject, MAX_SUBJECT)
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = message_id_header(message.message_id, from_address)
    # A message a person asked the system to send, not a reply: RFC 3834 says auto-responders
    # (vacation notices) must not answer it, which keeps them out of the store's inbox.
    email["Auto-Submitted"] = "auto-generated"
    if settings.list_unsubscribe:
        email["List-Unsubscribe"] = f"<{settings.list_unsubscribe}>"
        if settings.list_unsubscribe.startswith("https://"):
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    text = message.text if message.text.endswith("\n") else message.text + "\n"
    email.set_content(text, subtype="plain", charset="utf-8")
    html = message.html or text_to_html(message.text, link=message.link, business=message.business_name)
    email.add_alternative(html, subtype="html", charset="utf-8")
    return email


@dataclass(slots=True)
class EmailChannel:
    """Sends :class:`OutgoingMessage` values through the configured SMTP server."""

    settings: SmtpSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.EMAIL

    def normalize_address(self, address: str) -> str:
        return normalize_email_address(address)

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one email; ``sent`` once the server accepted it (the ``Message-ID`` is the reference)."""
        email = build_email(self.settings, message, now=self.clock())
        await asyncio.to_thread(self._deliver, email)
        return SendResult(provider_ref=str(email["Message-ID"]), status=MessageStatus.SENT)

    def send_blocking(self, message: OutgoingMessage) -> SendResult:
        """:meth:`send` for callers without an event loop (a CLI, a worker thread)."""
        email = build_email(self.settings, message, now=self.clock())
        self._deliver(email)
        return SendResult(provider_ref=str(email["Message-ID"]), status=MessageStatus.SENT)

    def _deliver(self, email: EmailMessage) -> None:
        settings = self.settings
        context = settings.ssl_context or ssl.create_default_context()
        recipient = email["To"].addresses[0].addr_spec
        sender = normalize_email_address(settings.from_address)
        try:
            smtp: smtplib.SMTP
            if settings.security is SmtpSecurity.TLS:
                smtp = smtplib.SMTP_SSL(
                    settings.host, settings.effective_port, timeout=settings.timeout_s, context=context
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.timeout_s)
            with smtp:
                smtp.ehlo()
                if settings.security is SmtpSecurity.STARTTLS:
                    if not smtp.has_extn("starttls"):
                        raise ChannelUnavailable(
                            "The mail server does not offer a secure connection (STARTTLS); email is not sent."
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if settings.username:
                    smtp.login(settings.username, settings.password)
                smtp.send_message(email, from_addr=sender, to_addrs=[recipient])
        except (ChannelUnavailable, ChannelRejected):
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            _raise_for_answer(code, answer, final=f"The mail server refused the address {recipient}.")
        except smtplib.SMTPNotSupportedError:
            raise ChannelUnavailable(
                "The mail server does not accept a login here; check the email settings."
            ) from None
        except smtplib.SMTPAuthenticationError:
            # Not the message's fault: retry once the manager fixes the settings.
            raise ChannelUnavailable("The mail server refused the login; check the email settings.") from None
        except smtplib.SMTPSenderRefused as exc:
            raise ChannelUnavailable(
                f"The mail server refused the sender {sender} ({exc.smtp_code}); check the email settings."
            ) from None
        except smtplib.SMTPResponseException as exc:
            _raise_for_answer(exc.smtp_code, exc.smtp_error, final="The mail server refused this message.")
        except ssl.SSLError as exc:
            raise ChannelUnavailable(
                f"Could not make a secure connection to the mail server ({exc.reason})."
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise ChannelUnavailable(
                f"Could not reach the mail server {settings.host}:{settings.effective_port} ({type(exc).__name__})."
            ) from None


def _raise_for_answer(code: int, answer: bytes | str, *, final: str) -> None:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    detail = single_line(text, 160)
    if 400 <= code < 500:
        raise ChannelUnavailable(f"The mail server asked to try again later ({code} {detail}).")
    raise ChannelRejected(f"{final} ({code} {detail})", code=str(code))
