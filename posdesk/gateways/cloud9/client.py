"""Cloud9's JSON endpoint (``restApi``): one flat JSON object in, one out, credentials in the body.

:class:`Cloud9Client` only moves requests and answers; what an answer *means* (approved, declined,
misconfigured) is :mod:`posdesk.gateways.cloud9.codes`' job, and the charge flow is the driver's.

Two ways a call can fail, kept apart because the charge flow treats them differently:

* :class:`NotSent` -- the connection was never made, so Cloud9 did nothing (safe to say "not charged");
* :class:`LostAnswer` -- the request may have reached Cloud9 but no usable answer came back (a read
  timeout, a dropped connection, HTTP 5xx, a body that is not JSON). The outcome is unknown until it is
  looked up with ``GetTransInfo``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

TEST_API_URL = "https://testlink.c9pg.com:11911/restApi"
LIVE_API_URL = "https://link.c9pg.com:11911/restApi"
DEFAULT_TIMEOUT = 30.0  # seconds: a card authorisation can take a while at the processor


class CallFailed(Exception):
    """A ``restApi`` call did not give a usable answer."""


class NotSent(CallFailed):
    """Cloud9 could not be reached: the request never left (nothing happened there)."""


class LostAnswer(CallFailed):
    """The request may have been processed, but its answer was lost."""


@dataclass(frozen=True)
class Credentials:
    """A store's Cloud9 merchant (GMID), terminal (GTID) and merchant password (GMPW).

    ``gmpw`` is left out of ``repr`` so a credential object in a log line or traceback shows no secret.
    """

    gmid: str
    gtid: str
    gmpw: str = field(repr=False)

    def body(self) -> dict[str, str]:
        return {"GMID": self.gmid, "GTID": self.gtid, "GMPW": self.gmpw}


def redacted(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` fit for a log line: the password and card data masked."""
    hidden = {"GMPW", "AccountNum", "CVVNum", "CardToken"}
    return {k: ("***" if k in hidden and v else v) for k, v in body.items()}


class Cloud9Client:
    """Posts one operation at a time to ``api_url`` with the store's credentials added.

    ``transport`` is for tests (an ``httpx`` transport); normally the network is used.
    """

    def __init__(
        self,
        credentials: Credentials,
        api_url: str = LIVE_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.credentials = credentials
        self.api_url = api_url
        self.timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"Cloud9Client(api_url={self.api_url!r}, gmid={self.credentials.gmid!r})"

    def call(self, trans_type: str, **fields: str) -> dict[str, str]:
        """Run ``trans_type`` with ``fields``; the answer's fields as strings.

        Raises :class:`NotSent` or :class:`LostAnswer` (never an ``httpx`` error).
        """
        body = {"TransType": trans_type, **self.credentials.body(), **fields}
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        try:
            with httpx.Client(timeout=timeout, transport=self._transport) as http:
                response = http.post(self.api_url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            log.warning("cloud9 %s: not reachable (%s)", trans_type, type(exc).__name__)
            raise NotSent(f"Cloud9 could not be reached ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            log.warning("cloud9 %s: answer lost (%s)", trans_type, type(exc).__name__)
            raise LostAnswer(f"Cloud9's answer was lost ({type(exc).__name__})") from None
        if response.status_code != 200:
            log.warning("cloud9 %s: HTTP %s", trans_type, response.status_code)
            raise LostAnswer(f"Cloud9 answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise LostAnswer("Cloud9's answer was not JSON") from None
        if not isinstance(answer, dict):
            raise LostAnswer("Cloud9's answer was not a JSON object")
        # Cloud9 answers strings; be lenient with numbers so a later change of theirs does not break us.
        return {str(k): _text(v) for k, v in answer.items()}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)  # e.g. TransactionList, documented as a JSON string but maybe not always
    return str(value)
