"""The Cloud9 (C9PG) gateway: see :mod:`posdesk.gateways.cloud9.driver`."""

from posdesk.gateways.cloud9.driver import Cloud9Gateway, build, check_public, invoice_number, transaction_ref

__all__ = ["Cloud9Gateway", "build", "check_public", "invoice_number", "transaction_ref"]
