"""Invoice links as capabilities, link status that only moves forward, and the event wire format."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from posdesk.core.events import LINK_STATUS_ORDER, Event, EventType, LinkStatus, link_status_advances
from posdesk.core.links import TOKEN_BYTES, hash_token, new_link_token, pay_url, token_matches

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


# -- tokens ------------------------------------------------------------------------------------------
def test_a_token_carries_at_least_128_random_bits() -> None:
    assert TOKEN_BYTES * 8 >= 128
    token = new_link_token()
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128


def test_tokens_are_url_safe_and_need_no_escaping() -> None:
    for _ in range(200):
        token = new_link_token()
        assert URL_SAFE.match(token), token


def test_tokens_do_not_repeat_and_are_not_all_alike() -> None:
    tokens = [new_link_token() for _ in range(20_000)]
    assert len(set(tokens)) == len(tokens)
    # Every position takes many values: a broken generator (a constant prefix, a counter) would not.
    for position in range(len(tokens[0])):
        assert len({t[position] for t in tokens}) > 50


def test_the_stored_hash_is_hex_sha256_of_the_token() -> None:
    token = new_link_token()
    stored = hash_token(token)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored


def test_token_matches_only_its_own_hash() -> None:
    token, other = new_link_token(), new_link_token()
    assert token_matches(token, hash_token(token))
    assert not token_matches(other, hash_token(token))
    assert not token_matches(token[:-1], hash_token(token))
    assert not token_matches(token, hash_token(token).upper())
    assert not token_matches("", hash_token(token))


@pytest.mark.parametrize("base", ["https://pay.example.com", "https://pay.example.com/", "http://127.0.0.1:8123/"])
def test_pay_url(base: str) -> None:
    assert pay_url(base, "abc_DEF-123") == base.rstrip("/") + "/pay/abc_DEF-123"


# -- link status -------------------------------------------------------------------------------------------
S = LinkStatus


@pytest.mark.parametrize(
    ("current", "new", "advances"),
    [
        (S.PREPARING, S.SENT, True),
        (S.SENT, S.OPENED, True),
        (S.OPENED, S.PARTIALLY_PAID, True),
        (S.PARTIALLY_PAID, S.PAID, True),
        (S.SENT, S.PAID, True),
        (S.OPENED, S.EXPIRED, True),
        (S.SENT, S.REVOKED, True),
        (S.EXPIRED, S.REVOKED, True),
        # A charge already in flight when the link expired or was revoked still shows as paid.
        (S.EXPIRED, S.PAID, True),
        (S.REVOKED, S.PAID, True),
        # Never back:
        (S.OPENED, S.SENT, False),  # a late "sent" from the messaging provider
        (S.PAID, S.OPENED, False),  # the client reopens the paid link
        (S.PAID, S.EXPIRED, False),
        (S.PAID, S.REVOKED, False),
        (S.PAID, S.PARTIALLY_PAID, False),
        (S.PARTIALLY_PAID, S.OPENED, False),
        (S.REVOKED, S.EXPIRED, False),
        (S.REVOKED, S.SENT, False),
        (S.EXPIRED, S.OPENED, False),
        (S.SENT, S.SENT, False),
        (S.PAID, S.PAID, False),
    ],
)
def test_link_status_moves_forward_never_back(current: LinkStatus, new: LinkStatus, advances: bool) -> None:
    assert link_status_advances(current, new) is advances


def test_paid_is_final_and_no_status_goes_round_in_a_cycle() -> None:
    assert not any(link_status_advances(S.PAID, s) for s in LinkStatus)
    for a, b in itertools.permutations(LinkStatus, 2):
        assert not (link_status_advances(a, b) and link_status_advances(b, a)), (a, b)
    assert list(LINK_STATUS_ORDER) == list(LinkStatus)


# -- events --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("event_type", list(EventType))
def test_event_wire_round_trip(event_type: EventType) -> None:
    event = Event(
        id=12345,
        type=event_type,
        created_at=datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5))),
        invoice_id="inv-1",
        ticket_id="t-1",
        data={"amount": 4500, "currency": "USD", "nested": {"a": [1, 2]}, "note": "café ✓"},
    )
    wire = event.to_wire()
    assert wire["type"] == event_type.value
    assert Event.from_wire(wire) == event


def test_event_without_invoice_or_data_round_trips() -> None:
    event = Event(id=1, type=EventType.CLIENT_CONSENT, created_at=datetime(2025, 1, 1, tzinfo=UTC))
    wire = event.to_wire()
    assert wire["invoice_id"] is None and wire["data"] == {}
    assert Event.from_wire(wire) == event
    assert Event.from_wire({**wire, "data": None}).data == {}


def test_event_types_are_the_names_on_the_wire() -> None:
    assert EventType("invoice.paid") is EventType.INVOICE_PAID
    assert Event.from_wire({"id": 1, "type": "invoice.paid", "created_at": "2025-01-01T00:00:00+00:00"}).type is (
        EventType.INVOICE_PAID
    )


def test_an_event_of_a_type_from_a_newer_companion_is_read_as_unknown() -> None:
    wire = {"id": 7, "type": "store.opening_hours_changed", "created_at": "2026-12-05T10:00:00+00:00", "data": {"x": 1}}
    event = Event.from_wire(wire)
    assert event.type is EventType.UNKNOWN and event.id == 7 and event.data == {"x": 1}
