"""The manager connects a store to Stripe through the POS API (``PUT /api/v1/gateway``), as tests do."""

from __future__ import annotations

import httpx


def connect_stripe(api: httpx.Client, api_base: str, webhook_secret: str, *, key: str = "posdesk") -> None:
    """Point the terminal's store at the Stripe (fake) at ``api_base`` with test keys named after ``key``;
    no retries, so a test sees each failure at once."""
    answer = api.put(
        "/api/v1/gateway",
        json={
            "kind": "stripe",
            "public": {"publishable_key": f"pk_test_{key}", "stripe_api_base": api_base, "max_network_retries": "0"},
            "secrets": {"secret_key": f"sk_test_{key}", "webhook_secret": webhook_secret},
        },
    )
    assert answer.status_code == 200, answer.text
