"""Payment gateway drivers behind one interface (:mod:`posdesk.gateways.base`), chosen by name.

A driver is a module exposing ``build(public, secrets, **ctx) -> Gateway``. :data:`DRIVERS` maps a
gateway's name to that module; adding Stripe or Cloud9 means writing ``posdesk/gateways/<name>/`` with a
``build`` function (and, for the page, ``templates/<partial>.html``) -- nothing here changes but the
name being listed. Modules are imported on first use, so the companion does not import the Stripe SDK
to run the Simulator.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from posdesk.gateways.base import Gateway, Misconfigured

DRIVERS: Mapping[str, str] = {
    "simulator": "posdesk.gateways.simulator",
    "stripe": "posdesk.gateways.stripe",
    "cloud9": "posdesk.gateways.cloud9",
}

# Drivers whose webhooks are signed with the companion's own secret, not a store's (the Simulator runs
# inside the companion): their events come to ``/webhooks/<name>`` with no store in the address.
COMPANION_SECRET: frozenset[str] = frozenset({"simulator"})
# Drivers whose card form reports a new card token to ``/webhooks/<name>/<store>/card-token`` (an
# unsigned hint the driver confirms with the gateway before charging).
CARD_TOKEN_CALLBACKS: frozenset[str] = frozenset({"cloud9"})


def check_public_settings(kind: str, public: Mapping[str, Any]) -> None:
    """Raise :class:`Misconfigured` for public settings the driver would refuse (e.g. an API address
    other than the gateway's own or this machine's); drivers without such a check accept anything."""
    module_name = DRIVERS.get(kind)
    if module_name is None:
        raise Misconfigured(f"unknown payment gateway {kind!r}")
    check = getattr(importlib.import_module(module_name), "check_public", None)
    if check is not None:
        check(public)


def build_gateway(kind: str, public: Mapping[str, Any], secrets: Mapping[str, Any], **ctx: Any) -> Gateway:
    """The driver for ``kind`` configured with a store's public settings and secrets.

    ``ctx`` carries what the companion lends a driver (the Simulator's ledger and webhook sink).
    Raises :class:`Misconfigured` for an unknown name or a driver that is not written yet.
    """
    module_name = DRIVERS.get(kind)
    if module_name is None:
        raise Misconfigured(f"unknown payment gateway {kind!r}")
    module = importlib.import_module(module_name)
    build = getattr(module, "build", None)
    if build is None:
        raise Misconfigured(f"the {kind} gateway is not available in this version")
    gateway: Gateway = build(dict(public), dict(secrets), **ctx)
    return gateway


__all__ = ["CARD_TOKEN_CALLBACKS", "COMPANION_SECRET", "DRIVERS", "build_gateway", "check_public_settings"]
