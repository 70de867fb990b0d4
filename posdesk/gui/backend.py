"""The screens' data access lives in :mod:`posdesk.pos.backend` (Qt-free); re-exported for callers."""

from posdesk.pos.backend import InvoiceInfo, PosBackend, TicketSummary, TodayAppointment

__all__ = ["InvoiceInfo", "PosBackend", "TicketSummary", "TodayAppointment"]
