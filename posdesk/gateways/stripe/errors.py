"""Stripe's exceptions turned into the gateway errors the companion understands.

The companion never sees a ``stripe.*`` exception: a decline becomes :class:`Declined` (the client may
try another card), a refused key :class:`Misconfigured` (the manager must fix settings), an outage or a
timeout :class:`Unavailable` (the outcome of a charge is unknown until looked up).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import stripe

from posdesk.gateways.base import Declined, GatewayError, Misconfigured, Unavailable

GONE_CARD_MESSAGE = "This card is no longer available. Please choose another card."
BAD_KEY_HINT = "Check the Stripe secret key in Settings > Payments."


def _text(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__


def translate(exc: stripe.StripeError) -> GatewayError:
    """The gateway error that says what ``exc`` means for the client or the manager."""
    if isinstance(exc, stripe.CardError):
        return Declined(_text(exc))
    if isinstance(exc, stripe.IdempotencyError):
        return GatewayError("This payment could not be started. Please reload the page and try again.")
    if isinstance(exc, stripe.AuthenticationError):
        return Misconfigured(f"Stripe refused the secret key ({_text(exc)}). {BAD_KEY_HINT}")
    if isinstance(exc, stripe.PermissionError):
        return Misconfigured(f"The Stripe key may not do this ({_text(exc)}). {BAD_KEY_HINT}")
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)):
        return Unavailable(f"Stripe did not answer: {_text(exc)}")
    if (
        isinstance(exc, stripe.InvalidRequestError)
        and exc.code == "resource_missing"
        and "payment_method" in (exc.param or "")
    ):
        return Declined(GONE_CARD_MESSAGE)
    if isinstance(exc, stripe.InvalidRequestError) and (exc.http_status or 0) >= 500:
        return Unavailable(f"Stripe did not answer: {_text(exc)}")
    return GatewayError(_text(exc))


@contextlib.contextmanager
def stripe_errors() -> Iterator[None]:
    """Run a block of Stripe calls, raising :func:`translate`'s error instead of Stripe's."""
    try:
        yield
    except stripe.StripeError as exc:
        raise translate(exc) from None
