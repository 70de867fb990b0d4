"""SMS pieces without a network: phone numbers, Twilio signatures, callback and inbound parsing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posdesk.messaging.base import DeliveryUpdate, InvalidAddress, MessageStatus
from posdesk.messaging.sms import (
    ConsentChange,
    parse_inbound,
    parse_status_callback,
    to_e164,
    twilio_signature,
    verify_twilio_signature,
)

DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="  # Twilio's documented example, auth token "12345"


def test_signature_matches_twilios_documented_example() -> None:
    assert twilio_signature(DOC_URL, DOC_PARAMS, "12345") == DOC_SIGNATURE
    assert verify_twilio_signature(DOC_URL, DOC_PARAMS, DOC_SIGNATURE, "12345")
    assert verify_twilio_signature(
        DOC_URL, list(DOC_PARAMS.items())[::-1], DOC_SIGNATURE, "12345"
    )  # any order


def test_signature_accepts_the_url_with_or_without_its_default_port() -> None:
    signed_with_port = twilio_signature(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_PARAMS, "12345"
    )
    assert verify_twilio_signature(DOC_URL, DOC_PARAMS, signed_with_port, "12345")
    assert verify_twilio_signature(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE, "12345"
    )


def test_repeated_parameters_are_signed_sorted_by_value() -> None:
    pairs = [("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]
    expected = twilio_signature(
        "https://h.example/in", [("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b")], "t"
    )
    assert twilio_signature("https://h.example/in", pairs, "t") == expected
    assert verify_twilio_signature("https://h.example/in", pairs, expected, "t")


@pytest.mark.parametrize(
    ("signature", "token"),
    [(None, "12345"), ("", "12345"), (DOC_SIGNATURE, ""), (DOC_SIGNATURE + "x", "12345"), ("é", "12345")],
)
def test_missing_or_wrong_signature_is_refused(signature: str | None, token: str) -> None:
    assert not verify_twilio_signature(DOC_URL, DOC_PARAMS, signature, token)


def test_non_text_form_values_are_refused_not_crashing() -> None:
    assert not verify_twilio_signature(DOC_URL, {"Body": object()}, DOC_SIGNATURE, "12345")


@pytest.mark.parametrize(
    ("typed", "country", "e164"),
    [
        ("+1 (555) 010-2000", "", "+15550102000"),
        ("555-010-2000", "1", "+15550102000"),
        ("1 555 010 2000", "1", "+15550102000"),
        ("07700 900123", "44", "+447700900123"),
        ("0044 7700 900123", "", "+447700900123"),
        ("+33 6 12 34 56 78", "1", "+33612345678"),
    ],
)
def test_phone_numbers_become_e164(typed: str, country: str, e164: str) -> None:
    assert to_e164(typed, country) == e164


@pytest.mark.parametrize(
    ("typed", "country"),
    [
        ("555-010-2000", ""),
        ("12", "1"),
        ("+0 555 010 2000", ""),
        ("call me", "1"),
        ("+1 555\n0102000", ""),
        ("", "1"),
    ],
)
def test_unusable_phone_numbers_are_refused_with_a_hint(typed: str, country: str) -> None:
    with pytest.raises(InvalidAddress, match=r"international format"):
        to_e164(typed, country)


def test_status_callback_parsing() -> None:
    assert parse_status_callback({"MessageSid": "SM1", "MessageStatus": "sent"}) == DeliveryUpdate(
        "SM1", MessageStatus.SENT
    )
    failed = parse_status_callback({"SmsSid": "SM1", "SmsStatus": "undelivered", "ErrorCode": "30005"})
    assert failed is not None and failed.status is MessageStatus.FAILED and failed.code == "30005"
    assert failed.reason == "This number does not exist or is no longer in service."
    odd = parse_status_callback({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "39999"})
    assert odd is not None and odd.reason == "The message could not be delivered (Twilio error 39999)."
    assert parse_status_callback({"MessageSid": "SM1", "MessageStatus": "received"}) is None
    with pytest.raises(ValueError):
        parse_status_callback({"MessageStatus": "sent"})


def test_inbound_parsing() -> None:
    stop = parse_inbound({"MessageSid": "SM1", "From": "+15550102000", "To": "+15005550006", "Body": "STOP"})
    assert stop.consent_change is ConsentChange.WITHDRAWN
    assert (stop.from_address, stop.to_address, stop.provider_ref) == ("+15550102000", "+15005550006", "SM1")
    # Advanced Opt-Out's OptOutType wins over our reading of the text (a custom keyword, say).
    custom = parse_inbound({"MessageSid": "SM2", "From": "+1555", "Body": "BASTA", "OptOutType": "STOP"})
    assert custom.consent_change is ConsentChange.WITHDRAWN
    with pytest.raises(ValueError):
        parse_inbound({"MessageSid": "SM3", "Body": "STOP"})


def test_messaging_depends_only_on_core() -> None:
    """``companion -> messaging -> core``: importing messaging pulls in no GUI, store, sync or companion."""
    code = (
        "import sys, posdesk.messaging, posdesk.messaging.limits, posdesk.messaging.email_html\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'PySide6', 'fastapi', 'starlette', 'sqlalchemy'}\n"
        "       or m.startswith(('posdesk.gui', 'posdesk.store', 'posdesk.sync', 'posdesk.companion'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
