"""Cloud9's hosted card form (``CreateCardToken``), embedded in the payment page as an iframe.

Card numbers never touch the companion: the client types them into Cloud9's own page, which answers
with a card token. The iframe's address is authenticated by a ``Seed`` the companion computes for each
render, so the merchant password (GMPW) never reaches the browser:

* ``WebGMID`` = uppercase hex SHA-256 of the GMID;
* ``SeedTime`` = now in UTC as ``DD-MM-YYYY:HH:MM:SS:SSS``;
* ``Seed`` = uppercase hex SHA-256 of ``InvoiceNum:WebGMID:GTID:SeedTime:GMPW``, valid 5 minutes.

The token comes back twice: by ``postMessage`` to the page (``CallbackVersion=2.0``) and by a
server-to-server POST to ``CallbackUrl``. Neither is signed, so both are hints: the companion confirms
the token with ``GetCardTokenInfo`` before charging it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from posdesk.gateways.cloud9.client import Credentials

TEST_FRAME_URL = "https://testvterm.c9pg.com"
LIVE_FRAME_URL = "https://vterm.c9pg.com"
SEED_VALIDITY = timedelta(minutes=5)
CALLBACK_VERSION = "2.0"


def sha256_upper(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def web_gmid(gmid: str) -> str:
    return sha256_upper(gmid)


def seed_time(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%d-%m-%Y:%H:%M:%S:") + f"{when.microsecond // 1000:03d}"


def seed(invoice_num: str, credentials: Credentials, when: datetime) -> dict[str, str]:
    """The query parameters that authenticate one iframe address."""
    wg = web_gmid(credentials.gmid)
    stamp = seed_time(when)
    return {
        "WebGMID": wg,
        "GTID": credentials.gtid,
        "InvoiceNum": invoice_num,
        "SeedTime": stamp,
        "Seed": sha256_upper(f"{invoice_num}:{wg}:{credentials.gtid}:{stamp}:{credentials.gmpw}"),
    }


def new_form_ref() -> str:
    """A fresh reference for one rendered card form: its ``InvoiceNum`` and ``CallbackContext``.

    It is not the invoice: a token is not a charge, and the ``Sale`` carries the real invoice number.
    A random reference also lets the server callback be matched to this one render and nothing else.
    """
    return "PDC" + secrets.token_hex(16).upper()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class CardForm:
    """One rendered card form: where the iframe points and how the page recognises its answer."""

    src: str
    origin: str
    ref: str
    expires_at: datetime


def card_form(
    credentials: Credentials,
    frame_url: str,
    *,
    now: datetime,
    callback_url: str = "",
    merchant_name: str = "",
) -> CardForm:
    """A freshly seeded ``CreateCardToken`` address (a new one for every page render)."""
    ref = new_form_ref()
    params = seed(ref, credentials, now)
    params["CallbackVersion"] = CALLBACK_VERSION
    params["CallbackContext"] = ref
    if callback_url:
        params["CallbackUrl"] = callback_url
    if merchant_name:
        params["MerchantName"] = merchant_name[:60]
    base = frame_url.rstrip("/")
    return CardForm(f"{base}/CreateCardToken?{urlencode(params)}", origin_of(base), ref, now + SEED_VALIDITY)
