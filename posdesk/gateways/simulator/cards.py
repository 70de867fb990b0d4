"""The Simulator's test cards: which number approves, declines or asks for 3-D Secure.

Numbers follow Stripe's test cards so a trainer's habits carry over to a real store in test mode.
Any other number that passes the Luhn check approves.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date

from posdesk.gateways.base import Declined


class Behaviour(enum.StrEnum):
    APPROVE = "ok"
    DECLINE = "decline"
    THREE_D_SECURE = "3ds"


APPROVES = "4242424242424242"
DECLINES = "4000000000000002"
ASKS_3DS = "4000002500003155"
_SPECIAL = {DECLINES: Behaviour.DECLINE, ASKS_3DS: Behaviour.THREE_D_SECURE}

DECLINED_MESSAGE = "Your card was declined"
_EXPIRY = re.compile(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*")


@dataclass(frozen=True, slots=True)
class TestCard:
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    behaviour: Behaviour


def luhn_ok(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {f"{n}" for n in range(51, 56)} or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "card"


def read_card(number: str, expiry: str, cvc: str, *, today: date | None = None) -> TestCard:
    """Validate the simulated card fields like a real card form would; :class:`Declined` says what is wrong."""
    digits = re.sub(r"[\s-]", "", number or "")
    if not digits:
        raise Declined("Enter your card number")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        raise Declined("Your card number is invalid")
    match = _EXPIRY.fullmatch(expiry or "")
    if not match:
        raise Declined("Enter the expiry date as MM / YY")
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    today = today or date.today()
    if not 1 <= month <= 12:
        raise Declined("The expiry month is invalid")
    if (year, month) < (today.year, today.month):
        raise Declined("Your card has expired")
    cvc = (cvc or "").strip()
    if not (cvc.isascii() and cvc.isdigit() and len(cvc) in (3, 4)):
        raise Declined("Your card's security code is incomplete")
    return TestCard(brand_of(digits), digits[-4:], month, year, _SPECIAL.get(digits, Behaviour.APPROVE))
