"""The Stripe gateway: see :mod:`posdesk.gateways.stripe.driver`."""

from posdesk.gateways.stripe.driver import (
    BASE_ENV,
    SIGNATURE_HEADER,
    StripeGateway,
    api_base,
    build,
    canceled_of,
    check_public,
    refund_of,
    setup_of,
)
from posdesk.gateways.stripe.objects import NEXT_ACTION, IntentState, RefundReport, SetupReport

__all__ = [
    "BASE_ENV",
    "NEXT_ACTION",
    "SIGNATURE_HEADER",
    "IntentState",
    "RefundReport",
    "SetupReport",
    "StripeGateway",
    "api_base",
    "build",
    "canceled_of",
    "check_public",
    "refund_of",
    "setup_of",
]
