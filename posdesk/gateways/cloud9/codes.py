"""What a Cloud9 answer means: approved, declined (and what to tell the client), or a problem the
manager must fix.

Cloud9 answers with two codes. ``ErrorCode`` is Cloud9's own three-character code and is read first
(``000`` approved, ``1xx`` the gateway, ``0xx`` the processor's decline); ``ResponseCode`` comes from the
processor host and is the fallback when ``ErrorCode`` is missing or unknown (``00`` approved).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Kind(enum.Enum):
    APPROVED = "approved"
    DECLINED = "declined"  # the card or the issuer said no: the client may try another card
    DUPLICATE = "duplicate"  # CheckDuplicate refused a repeat within a minute
    MISCONFIGURED = "misconfigured"  # credentials or references the manager must fix
    NO_RECORD = "no_record"  # GetTransInfo knows nothing of it
    TIMEOUT = "timeout"  # Cloud9 gave up waiting for the processor: the outcome is unknown
    INVALID = "invalid"  # Cloud9 refused the request itself (a bug on our side, logged)


@dataclass(frozen=True, slots=True)
class Meaning:
    kind: Kind
    code: str  # the code that decided it, e.g. "051"
    client_message: str  # fit for the payment page
    manager_message: str = ""  # fit for settings' Test connection and the log


UNAVAILABLE = "Payments are temporarily unavailable. You were not charged; please try again later."
DECLINED = "Your card was declined. Please use another card."
DECLINE_MESSAGES = {
    "005": "Your card was declined by your bank. Please use another card or contact your bank.",
    "051": "Your card was declined for insufficient funds. Please use another card.",
    "054": "Your card has expired. Please use another card.",
    "0N7": "The security code (CVV) did not match. Please check the card details or use another card.",
}
DUPLICATE = (
    "This card was charged the same amount for this invoice less than a minute ago, so it was not "
    "charged again. Please check your statement or wait a minute before trying again."
)
MANAGER_MESSAGES = {
    "101": "Cloud9 does not recognise the merchant ID (GMID). Check the Cloud9 settings.",
    "102": "Cloud9 does not recognise the terminal ID (GTID). Check the Cloud9 settings.",
    "103": "Cloud9 refused the merchant password (GMPW). Check the Cloud9 settings.",
    "104": "Cloud9 does not know this transaction reference (GTRC).",
    "105": "Cloud9 does not know this card token.",
}
TIMEOUT_CODES = frozenset({"117", "118", "119", "120"})
# The processor's ResponseCode, for answers whose ErrorCode says nothing we know.
RESPONSE_CODES = {"05": "005", "51": "051", "54": "054", "N7": "0N7"}


def meaning(answer: Mapping[str, str]) -> Meaning:
    """Classify one ``restApi`` answer (``ErrorCode`` first, then ``ResponseCode``, then ``Status``)."""
    status = answer.get("Status", "").strip().lower()
    code = answer.get("ErrorCode", "").strip().upper()
    text = answer.get("ErrorText", "") or answer.get("ResponseText", "")
    if status == "success" and code in ("", "000"):
        return Meaning(Kind.APPROVED, "000", "")
    if code in MANAGER_MESSAGES:
        return Meaning(
            Kind.MISCONFIGURED, code, UNAVAILABLE, f"{MANAGER_MESSAGES[code]} (Cloud9 error {code})"
        )
    if code == "146":
        return Meaning(Kind.DUPLICATE, code, DUPLICATE)
    if code == "202":
        return Meaning(Kind.NO_RECORD, code, UNAVAILABLE)
    if code in TIMEOUT_CODES or status == "timeout":
        return Meaning(Kind.TIMEOUT, code or "timeout", UNAVAILABLE)
    if code in DECLINE_MESSAGES:
        return Meaning(Kind.DECLINED, code, DECLINE_MESSAGES[code])
    if len(code) == 3 and code.startswith("0") and code != "000":
        return Meaning(Kind.DECLINED, code, DECLINED)
    response = answer.get("ResponseCode", "").strip().upper()
    if response in RESPONSE_CODES:
        decided = RESPONSE_CODES[response]
        return Meaning(Kind.DECLINED, decided, DECLINE_MESSAGES[decided])
    if response == "00" and status in ("", "success"):
        return Meaning(Kind.APPROVED, "00", "")
    if status == "invaliddata" or code.startswith("1"):
        return Meaning(
            Kind.INVALID, code or status, UNAVAILABLE, f"Cloud9 refused the request: {code} {text}".strip()
        )
    if status in ("fail", "cancel") or response:
        return Meaning(Kind.DECLINED, code or response or status, DECLINED)
    return Meaning(
        Kind.INVALID,
        code or status or "?",
        UNAVAILABLE,
        f"Cloud9 answered something unexpected: {code} {text}".strip(),
    )
