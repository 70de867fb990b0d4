"""The Communicator's channels for the companion: email over SMTP, SMS through an HTTP provider.

:func:`email_settings` and :func:`sms_settings` read a channel's settings from a mapping of the variables
below (the companion's configuration hands them ``os.environ``); :func:`channels_for` makes the channels.
A channel that is not configured is simply absent; a channel configured halfway is an error naming
what is missing, so a typo does not silently switch email off.

Environment variables
---------------------
Email (present when ``POSDESK_SMTP_HOST`` is set):

``POSDESK_SMTP_HOST``         mail server host name
``POSDESK_SMTP_PORT``         port (default 587 for starttls, 465 for tls, 25 for none)
``POSDESK_SMTP_SECURITY``     ``starttls`` (default), ``tls`` or ``none`` (none: same machine only
                              when a username is set)
``POSDESK_SMTP_USERNAME``     login, if the server wants one
``POSDESK_SMTP_PASSWORD``     its password (never logged)
``POSDESK_SMTP_FROM``         from address (required), e.g. ``invoices@salon.example``
``POSDESK_SMTP_FROM_NAME``    display name (default: the business name of each message)
``POSDESK_SMTP_REPLY_TO``     optional Reply-To address
``POSDESK_SMTP_LIST_UNSUBSCRIBE``  optional ``mailto:`` or ``https://`` unsubscribe address

SMS (present when ``POSDESK_SMS_PROVIDER`` is set; ``twilio`` is the only provider):

``POSDESK_SMS_PROVIDER``              ``twilio``
``POSDESK_TWILIO_ACCOUNT_SID``        account SID (``AC...``)
``POSDESK_TWILIO_AUTH_TOKEN``         auth token (never logged; also verifies callbacks)
``POSDESK_TWILIO_FROM``               sender number in E.164, or alphanumeric sender id
``POSDESK_TWILIO_MESSAGING_SERVICE_SID``  instead of (or with) ``FROM``
``POSDESK_TWILIO_BASE_URL``           API base (default ``https://api.twilio.com``; any compatible API)
``POSDESK_SMS_DEFAULT_COUNTRY_CODE``  digits put before numbers typed without ``+``, e.g. ``1``
``POSDESK_SMS_STATUS_CALLBACK_URL``   public URL of the companion's status-callback endpoint (the
                                      ``status_callback_url`` argument wins)
"""

from __future__ import annotations

from collections.abc import Mapping

from posdesk.messaging.base import (
    Channel,
    ChannelKind,
    ChannelRejected,
    ChannelUnavailable,
    ConsentMissing,
    DeliveryUpdate,
    InvalidAddress,
    MessageStatus,
    MessagingError,
    OutgoingMessage,
    RateLimited,
    SendResult,
    message_status_advances,
    recipient_address,
)
from posdesk.messaging.email import EmailChannel, SmtpSecurity, SmtpSettings
from posdesk.messaging.sms import TwilioSettings, TwilioSms

__all__ = [
    "Channel",
    "ChannelKind",
    "ChannelRejected",
    "ChannelUnavailable",
    "ConsentMissing",
    "DeliveryUpdate",
    "InvalidAddress",
    "MessageStatus",
    "MessagingConfigError",
    "MessagingError",
    "OutgoingMessage",
    "RateLimited",
    "SendResult",
    "build_channels",
    "channels_for",
    "email_settings",
    "message_status_advances",
    "recipient_address",
    "sms_settings",
]


class MessagingConfigError(ValueError):
    """A channel is configured halfway or wrongly; the message names the variable to fix."""


def _get(config: Mapping[str, str], name: str) -> str:
    return (config.get(name) or "").strip()


def email_settings(config: Mapping[str, str]) -> SmtpSettings | None:
    """The SMTP settings in ``config`` (None when ``POSDESK_SMTP_HOST`` is unset)."""
    host = _get(config, "POSDESK_SMTP_HOST")
    if not host:
        return None
    from_address = _get(config, "POSDESK_SMTP_FROM")
    if not from_address:
        raise MessagingConfigError("POSDESK_SMTP_FROM is required when POSDESK_SMTP_HOST is set")
    security_name = _get(config, "POSDESK_SMTP_SECURITY").lower() or SmtpSecurity.STARTTLS.value
    try:
        security = SmtpSecurity(security_name)
    except ValueError:
        raise MessagingConfigError("POSDESK_SMTP_SECURITY must be starttls, tls or none") from None
    port_text = _get(config, "POSDESK_SMTP_PORT")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise MessagingConfigError("POSDESK_SMTP_PORT must be a port number")
    try:
        settings = SmtpSettings(
            host=host,
            port=int(port_text) if port_text else None,
            security=security,
            username=_get(config, "POSDESK_SMTP_USERNAME"),
            password=config.get("POSDESK_SMTP_PASSWORD") or "",  # spaces may be part of a password
            from_address=from_address,
            from_name=_get(config, "POSDESK_SMTP_FROM_NAME"),
            reply_to=_get(config, "POSDESK_SMTP_REPLY_TO"),
            list_unsubscribe=_get(config, "POSDESK_SMTP_LIST_UNSUBSCRIBE"),
        )
    except ValueError as exc:
        raise MessagingConfigError(f"email settings: {exc}") from None
    return settings


def sms_settings(config: Mapping[str, str], status_callback_url: str | None = None) -> TwilioSettings | None:
    """The SMS provider's settings in ``config`` (None when ``POSDESK_SMS_PROVIDER`` is unset)."""
    provider = _get(config, "POSDESK_SMS_PROVIDER").lower()
    if not provider:
        return None
    if provider != "twilio":
        raise MessagingConfigError(f"POSDESK_SMS_PROVIDER {provider!r} is not supported (use 'twilio')")
    missing = [
        name for name in ("POSDESK_TWILIO_ACCOUNT_SID", "POSDESK_TWILIO_AUTH_TOKEN") if not _get(config, name)
    ]
    if not (_get(config, "POSDESK_TWILIO_FROM") or _get(config, "POSDESK_TWILIO_MESSAGING_SERVICE_SID")):
        missing.append("POSDESK_TWILIO_FROM (or POSDESK_TWILIO_MESSAGING_SERVICE_SID)")
    if missing:
        raise MessagingConfigError("SMS is set to twilio but these are missing: " + ", ".join(missing))
    country = _get(config, "POSDESK_SMS_DEFAULT_COUNTRY_CODE").lstrip("+")
    if country and not country.isdigit():
        raise MessagingConfigError("POSDESK_SMS_DEFAULT_COUNTRY_CODE must be digits, e.g. 1 or 44")
    try:
        settings = TwilioSettings(
            account_sid=_get(config, "POSDESK_TWILIO_ACCOUNT_SID"),
            auth_token=_get(config, "POSDESK_TWILIO_AUTH_TOKEN"),
            from_number=_get(config, "POSDESK_TWILIO_FROM"),
            messaging_service_sid=_get(config, "POSDESK_TWILIO_MESSAGING_SERVICE_SID"),
            base_url=_get(config, "POSDESK_TWILIO_BASE_URL") or "https://api.twilio.com",
            status_callback_url=status_callback_url or _get(config, "POSDESK_SMS_STATUS_CALLBACK_URL"),
            default_country_code=country,
        )
    except ValueError as exc:
        raise MessagingConfigError(f"SMS settings: {exc}") from None
    return settings


def build_channels(
    config: Mapping[str, str], *, status_callback_url: str | None = None
) -> dict[str, Channel]:
    """The configured channels by kind (``"email"``, ``"sms"``); an unconfigured one is absent.

    Raises :class:`MessagingConfigError` for a channel configured halfway.
    """
    return channels_for(email_settings(config), sms_settings(config, status_callback_url))


def channels_for(email: SmtpSettings | None, sms: TwilioSettings | None) -> dict[str, Channel]:
    """The channels these settings make, by kind; a channel without settings is absent."""
    channels: dict[str, Channel] = {}
    if email is not None:
        channels[ChannelKind.EMAIL.value] = EmailChannel(email)
    if sms is not None:
        channels[ChannelKind.SMS.value] = TwilioSms(sms)
    return channels
