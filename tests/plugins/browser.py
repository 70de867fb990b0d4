"""Debian's Chromium driven by Playwright's sync API, at phone size, cut off from everything but loopback.

Fixtures:

* ``browser`` (session) -- a ``playwright.sync_api.Browser`` (``/usr/bin/chromium``, headless). Playwright
  and Chromium start the first time a test asks for it and stop at the end of the session.
* ``phone_page`` (function) -- a ``Page`` in a new context of its own: 390x844, device scale factor 2,
  mobile, touch, ``en-US``. Every request to a host other than 127.0.0.1 / localhost / ::1 is aborted,
  unless the test routes it itself (``page.route`` or a later ``context.route`` wins over the guard), so a
  page that loads ``https://js.stripe.com/v3`` needs a stand-in routed by the test. When the test fails,
  a full-page screenshot is saved in the test's ``tmp_path`` and its path (and any blocked URLs) is
  printed in a section of the failure report.

:func:`new_phone_context` makes more such contexts (a second phone in the same test).

Playwright's sync API and asyncio: while Playwright runs, its sync API marks its own event loop as the
running loop of the main thread, so ``asyncio.run()`` would refuse to run anywhere later in the session.
This plugin keeps Playwright's loop marked as running only during tests that use ``browser`` (directly or
through a fixture), and a Playwright call made elsewhere (say, a module-scoped fixture torn down after a
test that does not use the browser) marks it for the duration of that call. A test that uses the browser
must not call ``asyncio.run()`` itself; Qt (pytest-qt) does not use asyncio and is not affected. Servers
run in threads (uvicorn, aiosmtpd) have loops of their own and are not affected either.

Tests that use ``browser`` get the ``browser`` marker automatically.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.plugins import missing_requirement, require_tool

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # Defence in depth for what page routes cannot see (WebSockets, service workers): names other than
    # localhost do not resolve. Requests a test fulfils with page.route() never reach the resolver.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
    # Service workers would fetch past the routes.
    "service_workers": "block",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
GUARDED_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})

_PHONE_KEY = pytest.StashKey["_PhoneState"]()


@dataclasses.dataclass
class _PhoneState:
    page: Page
    tmp_path: Path
    blocked: list[str]


@dataclasses.dataclass
class _Playwright:
    """The session's Playwright: the context manager (it owns the event loop) and its loop."""

    manager: Any = None
    loop: asyncio.AbstractEventLoop | None = None


_session = _Playwright()


# -------------------------------------------------------------------------------- asyncio coexistence


@contextlib.contextmanager
def _playwright_loop_running() -> Iterator[None]:
    """Mark Playwright's loop as the running loop of this thread for the block (the sync API needs it)."""
    loop = _session.loop
    if loop is None or loop.is_closed() or asyncio._get_running_loop() is not None:
        yield
        return
    asyncio._set_running_loop(loop)
    try:
        yield
    finally:
        if asyncio._get_running_loop() is loop:
            asyncio._set_running_loop(None)


def _release_playwright_loop() -> None:
    if _session.loop is not None and asyncio._get_running_loop() is _session.loop:
        asyncio._set_running_loop(None)


def _install_sync_call_guard() -> None:
    """Let a Playwright call made while its loop is not marked running mark it for that call only."""
    try:
        from playwright._impl._sync_base import SyncBase

        original = SyncBase._sync
    except (ImportError, AttributeError):  # a Playwright that changed its internals: do without
        return
    if getattr(original, "_posdesk_guard", False):
        return

    @functools.wraps(original)
    def _sync(self: Any, awaitable: Any) -> Any:
        __tracebackhide__ = True
        if asyncio._get_running_loop() is not None or self._loop.is_closed():
            return original(self, awaitable)
        asyncio._set_running_loop(self._loop)
        try:
            return original(self, awaitable)
        finally:
            if asyncio._get_running_loop() is self._loop:
                asyncio._set_running_loop(None)

    _sync._posdesk_guard = True  # type: ignore[attr-defined]
    SyncBase._sync = _sync  # type: ignore[method-assign]


def _uses_browser(item: pytest.Item) -> bool:
    return "browser" in getattr(item, "fixturenames", ())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    if _uses_browser(item):
        with _playwright_loop_running():
            try:
                return (yield)
            finally:
                # The browser may have started during this test (it marks its loop running itself).
                _release_playwright_loop()
    try:
        return (yield)
    finally:
        _release_playwright_loop()


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (started for the session on first use)."""
    executable = require_tool("chromium", CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_requirement("the playwright Python package is not installed (./dev setup)")
    _install_sync_call_guard()
    manager = sync_playwright()
    playwright = manager.start()
    _session.manager, _session.loop = manager, getattr(manager, "_loop", None)
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    except BaseException:
        with _playwright_loop_running():
            playwright.stop()
        raise
    try:
        yield chromium
    finally:
        with _playwright_loop_running():
            try:
                chromium.close()
            finally:
                playwright.stop()  # ends the driver (and Chromium with it) and closes the loop
        _release_playwright_loop()
        _session.manager = None


def _is_allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in GUARDED_SCHEMES or (parts.hostname or "") in LOOPBACK_HOSTS


def new_phone_context(browser: Browser, blocked: list[str] | None = None, **overrides: Any) -> BrowserContext:
    """A new phone-sized context (``PHONE`` updated with ``overrides``) that only reaches loopback.

    Aborted URLs are appended to ``blocked`` when given. Routes the caller adds later (on the context or a
    page) take precedence over the guard.
    """
    context = browser.new_context(**{**PHONE, **overrides})

    def guard(route: Route) -> None:
        url = route.request.url
        if _is_allowed(url):
            route.fallback()
            return
        if blocked is not None:
            blocked.append(url)
        route.abort("blockedbyclient")

    context.route("**/*", guard)
    return context


@pytest.fixture
def phone_page(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    """A page at phone size in a fresh, loopback-only context; screenshot on failure (see module doc)."""
    blocked: list[str] = []
    context = new_phone_context(browser, blocked)
    try:
        page = context.new_page()
        request.node.stash[_PHONE_KEY] = _PhoneState(page, tmp_path, blocked)
        yield page
    finally:
        if _PHONE_KEY in request.node.stash:
            del request.node.stash[_PHONE_KEY]
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.stash.get(_PHONE_KEY, None)
    if state is None or not report.failed or report.when not in ("setup", "call"):
        return report
    path = state.tmp_path / f"phone_page-{report.when}-failure.png"
    try:
        state.page.screenshot(path=path, full_page=True, timeout=10_000)
        report.sections.append(("phone_page screenshot", f"saved to {path}"))
    except Exception as error:  # the page may be closed or crashed; the report matters more
        report.sections.append(("phone_page screenshot", f"could not be taken: {error}"))
    if state.blocked:
        report.sections.append(("phone_page blocked requests (not loopback)", "\n".join(state.blocked)))
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_browser(item):
            item.add_marker(pytest.mark.browser)
