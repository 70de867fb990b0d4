"""This computer's address on its local network, for demo links a phone on the same Wi-Fi can open."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"
# A documentation address (RFC 5737): connecting a UDP socket to it sends nothing, but makes the system
# choose the interface (and so the address) it would use to reach the network.
_PROBE = ("192.0.2.1", 9)


def lan_address() -> str:
    """The IPv4 address other machines on the network reach this one at, or 127.0.0.1 when there is none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE)
            address = str(probe.getsockname()[0])
    except OSError:
        return LOOPBACK
    return address if address and not address.startswith("127.") and address != "0.0.0.0" else LOOPBACK
