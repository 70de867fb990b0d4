"""The Simulator's books: customers, cards and payments, kept in the companion process's memory.

A simulated card's reference spells out what the card does (``pm_sim_visa_4242_ok_1230_<random>``), so
a saved card still works after the companion restarts and the ledger is empty again; payments are
not kept across restarts (training data, not money).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field, replace

from posdesk.core.money import Money
from posdesk.gateways.base import ChargeRequest, ClientInfo, GatewayPayment, GatewayRefund
from posdesk.gateways.simulator.cards import Behaviour, TestCard


@dataclass(slots=True)
class SimCard:
    ref: str
    card: TestCard
    customer_ref: str | None = None
    authenticated: bool = False  # passed 3-D Secure once: later charges on it go through


@dataclass(slots=True)
class SimCustomer:
    ref: str
    client: ClientInfo
    default_method: str | None = None
    methods: list[str] = field(default_factory=list)


def new_ref(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def card_ref(card: TestCard) -> str:
    return f"pm_sim_{card.brand}_{card.last4}_{card.behaviour.value}_{card.exp_month:02d}{card.exp_year % 100:02d}_{secrets.token_hex(6)}"


def card_from_ref(ref: str) -> TestCard | None:
    parts = ref.split("_")
    if len(parts) != 7 or parts[:2] != ["pm", "sim"]:
        return None
    _, _, brand, last4, behaviour, expiry, _ = parts
    try:
        return TestCard(brand, last4, int(expiry[:2]), 2000 + int(expiry[2:]), Behaviour(behaviour))
    except ValueError:
        return None


class SimulatorLedger:
    """Thread-safe: the companion serves requests on several threads at once."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.customers: dict[str, SimCustomer] = {}
        self.cards: dict[str, SimCard] = {}
        self.payments: dict[str, GatewayPayment] = {}
        self.idempotency: dict[str, tuple[ChargeRequest, str]] = {}
        self.refunded: dict[str, int] = {}
        self.refund_keys: dict[str, tuple[str, Money, GatewayRefund]] = {}

    def card(self, ref: str) -> SimCard | None:
        with self.lock:
            known = self.cards.get(ref)
            if known is None:
                card = card_from_ref(ref)
                if card is None:
                    return None
                known = self.cards[ref] = SimCard(ref, card)
            return known

    def add_card(self, card: TestCard) -> SimCard:
        with self.lock:
            sim = SimCard(card_ref(card), card)
            self.cards[sim.ref] = sim
            return sim

    def customer(self, ref: str, client: ClientInfo | None = None) -> SimCustomer | None:
        with self.lock:
            known = self.customers.get(ref)
            if known is None and client is not None:
                known = self.customers[ref] = SimCustomer(ref, client)
            return known

    def record(self, payment: GatewayPayment) -> GatewayPayment:
        with self.lock:
            self.payments[payment.ref] = payment
            return payment

    def update(self, ref: str, **changes: object) -> GatewayPayment:
        with self.lock:
            payment = replace(self.payments[ref], **changes)  # type: ignore[arg-type]
            self.payments[ref] = payment
            return payment
