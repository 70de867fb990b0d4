"""Every answer says how long the app took (``Server-Timing: app;dur=<ms>``), which browsers show in
their network panel and the ``page`` benchmark collects to report server time apart from queueing."""

from __future__ import annotations

import re

from tests.companion.conftest import Companion, invoice_upload, put_invoice

DURATION = re.compile(r"^app;dur=(\d+\.\d{3})$")


def test_page_api_and_errors_carry_the_apps_own_time(companion: Companion) -> None:
    body = invoice_upload()
    assert put_invoice(companion.api, body).status_code in (200, 201)
    with companion.client() as browser:
        page = browser.get(f"/pay/{body['link_token']}")
        unknown = browser.get("/pay/no-such-link")
    health = companion.api.get("/healthz")
    for response in (page, unknown, health):
        found = DURATION.match(response.headers.get("server-timing", ""))
        assert found, response.headers
        assert 0 < float(found.group(1)) < 60_000
    assert (page.status_code, unknown.status_code) == (200, 404)
