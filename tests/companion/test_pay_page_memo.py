"""A page served again without being rebuilt (``posdesk.companion.pay.page_memo``) must still show every
change at once, including changes another worker made, a store setting, the link's expiry, and a read
the memo does not know about. Each test opens the page twice first, so the second open is remembered."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from posdesk.companion.models import Terminal
from posdesk.companion.pay import page_memo, views
from tests.companion.conftest import Companion, add_store
from tests.companion.test_pay_page import Page, uploaded
from tests.companion.test_pay_page_kept import due_now


def remembered(page: Page) -> str:
    first, second = page.open(), page.open()
    assert first.status_code == second.status_code == 200
    memo = page.companion.app.state.page_memo
    assert page.token in memo._pages, "the second open of an unchanged page is remembered"
    assert page.open().text == second.text
    return second.text


def test_a_payment_made_through_another_worker_shows_at_once(
    make_companion: Callable[[str], Companion], db_url: str
) -> None:
    one = make_companion(db_url)
    other = make_companion(db_url)  # a second worker on the same database
    body = uploaded(one)
    page = Page(one, body)
    assert due_now(remembered(page)) == "$81.65"  # the default upload: a service and a product, with tax

    elsewhere = Page(other, body)
    elsewhere.open()
    assert elsewhere.pay().status_code == 303

    shown = page.open()
    assert shown.status_code == 200 and "This invoice is already paid" in shown.text
    assert 'data-testid="pay-button"' not in shown.text


def test_a_store_setting_changed_shows_on_the_next_open(companion: Companion) -> None:
    page = Page(companion, uploaded(companion))
    assert "Test Salon" in remembered(page)
    settings = companion.api.get("/api/v1/settings").json()
    changed = companion.api.put("/api/v1/settings", json={**settings, "business_name": "Salon Rosa"})
    assert changed.status_code == 200, changed.text
    html = page.open().text
    assert "Salon Rosa" in html and "Test Salon" not in html


def test_a_remembered_page_is_not_served_once_the_link_expires(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = Page(companion, uploaded(companion))
    remembered(page)
    later = page_memo.utcnow() + timedelta(hours=73)  # links expire after 72 hours here
    for module in {page_memo.__name__, views.is_expired.__module__}:
        monkeypatch.setattr(sys.modules[module], "utcnow", lambda: later)
    assert page.open().status_code == 404


def test_a_page_that_reads_another_table_is_never_remembered(
    companion: Companion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the page come to show something from a table the memo does not read (here the number of
    the store's terminals), a change there must show: the memo notices the read and stays out."""
    page_view = views.page_view

    def with_terminals(session: Any, found: views.Found, *args: Any) -> views.PageView:
        view = page_view(session, found, *args)
        count = session.scalar(select(func.count()).select_from(Terminal))
        return views.PageView(
            **{
                **{f: getattr(view, f) for f in view.__slots__},
                "business": f"{view.business} ({count} tills)",
            }
        )

    monkeypatch.setattr(views, "page_view", with_terminals)
    page = Page(companion, uploaded(companion))
    assert "Test Salon (1 tills)" in page.open().text
    assert "Test Salon (1 tills)" in page.open().text
    add_store(companion.app, "Another Salon")  # pairs a second terminal
    assert "Test Salon (2 tills)" in page.open().text
    assert page.token not in companion.app.state.page_memo._pages
