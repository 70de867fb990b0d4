"""Gift cards sold on a ticket: each unit of a gift card line becomes a card with a code and a balance
once the ticket is paid in full.

The code is derived from the line's id (random, 128 bits), so every terminal that sees the paid ticket
names the same cards and the companion stores each once; it is short enough to write on a card.
"""

from __future__ import annotations

import base64

from posdesk.core.catalog import ItemKind
from posdesk.core.money import Money
from posdesk.core.ticket import Ticket, TicketLine, TicketState

PREFIX = "GC"


def gift_card_code(line_id: str, unit: int = 0) -> str:
    """``GC-XXXX-XXXX-XXXX`` (base32 letters and digits 2-7, 60 bits of the line's id and unit)."""
    import hashlib  # loads OpenSSL (~2 ms): on the first gift card shown, not with every first frame

    digest = hashlib.sha256(f"posdesk-gift-card\n{line_id}\n{unit}".encode()).digest()
    text = base64.b32encode(digest).decode()[:12]
    return f"{PREFIX}-{text[:4]}-{text[4:8]}-{text[8:]}"


def normalize_code(code: str) -> str:
    """What a cashier typed, as stored: upper case, no spaces (dashes kept where typed or not)."""
    compact = "".join(code.split()).upper().replace("-", "")
    if compact.startswith(PREFIX) and len(compact) == len(PREFIX) + 12:
        body = compact[len(PREFIX) :]
        return f"{PREFIX}-{body[:4]}-{body[4:8]}-{body[8:]}"
    return "".join(code.split()).upper()


def codes_of(line: TicketLine) -> list[str]:
    """The codes of a gift card line's cards (one per unit); none for another kind of line."""
    if line.kind is not ItemKind.GIFT_CARD:
        return []
    return [gift_card_code(line.id, unit) for unit in range(line.quantity)]


def sold_gift_cards(ticket: Ticket) -> list[tuple[str, Money]]:
    """(code, face value) of each gift card a paid ticket sold; none before it is paid in full."""
    if ticket.state is not TicketState.PAID:
        return []
    return [(code, line.unit_price) for line in ticket.lines for code in codes_of(line)]
