"""The Simulator gateway (training and demo): see :mod:`posdesk.gateways.simulator.driver`."""

from posdesk.gateways.simulator.cards import APPROVES, ASKS_3DS, DECLINES
from posdesk.gateways.simulator.driver import SIGNATURE_HEADER, SimulatorGateway, build
from posdesk.gateways.simulator.ledger import SimulatorLedger

__all__ = ["APPROVES", "ASKS_3DS", "DECLINES", "SIGNATURE_HEADER", "SimulatorGateway", "SimulatorLedger", "build"]
