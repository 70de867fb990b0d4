"""The shared fixtures, proved against the real programs they start."""

from __future__ import annotations

import asyncio
import io
import os
import re
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.plugins.postgres import ENV_URL, libpq_conninfo, process_alive
from tests.plugins.qr import decode_qr_png
from tests.plugins.smtp import SmtpTestServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ["tests.plugins.postgres", "tests.plugins.browser", "tests.plugins.smtp"]


def run_inner_session(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a test file in a separate pytest session with the plugins and the project config."""
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)]
    for plugin in PLUGINS:
        command += ["-p", plugin]
    command += ["-p", "no:cacheprovider", "-q", *args, str(test_file)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


# ------------------------------------------------------------------------------------------- postgres


def test_postgres_answers_a_query(postgres_url: str) -> None:
    import sqlalchemy as sa

    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            version = conn.execute(sa.text("show server_version_num")).scalar_one()
            address = conn.execute(sa.text("select host(inet_server_addr())")).scalar_one()
    finally:
        engine.dispose()
    if not os.environ.get(ENV_URL):
        assert int(version) >= 150000
        assert address == "127.0.0.1"


_seen_databases: set[str] = set()


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_database_of_its_own(postgres_db_url: str, run: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_db_url)
    try:
        with engine.begin() as conn:
            name = conn.execute(sa.text("select current_database()")).scalar_one()
            # Whichever run comes second would find the first run's table in a shared database.
            assert not sa.inspect(conn).has_table("left_behind")
            conn.execute(sa.text("create table left_behind (id int)"))
    finally:
        engine.dispose()
    assert name.startswith("test_")
    assert name not in _seen_databases
    _seen_databases.add(name)


def test_two_postgres_databases_in_one_test_are_distinct(postgres_url: str, postgres_db_url: str) -> None:
    import psycopg

    with psycopg.connect(libpq_conninfo(postgres_url)) as conn:
        session_db = conn.execute("select current_database()").fetchone()
    with psycopg.connect(libpq_conninfo(postgres_db_url)) as conn:
        test_db = conn.execute("select current_database()").fetchone()
    assert session_db != test_db


def test_db_url_runs_on_both_backends(db_url: str, request: pytest.FixtureRequest) -> None:
    import sqlalchemy as sa

    backend = request.node.callspec.params["db_url"]
    assert (request.node.get_closest_marker("postgres") is not None) == (backend == "postgres")
    assert db_url.startswith({"sqlite": "sqlite+pysqlite:///", "postgres": "postgresql+psycopg://"}[backend])
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table t (id integer primary key, name text)"))
            conn.execute(sa.text("insert into t (id, name) values (1, 'café')"))
            assert conn.execute(sa.text("select name from t")).scalar_one() == "café"
    finally:
        engine.dispose()


def test_postgres_tests_are_marked(request: pytest.FixtureRequest, postgres_url: str) -> None:
    assert request.node.get_closest_marker("postgres") is not None


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_server_stops_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """A whole session in a subprocess: after it, no postmaster runs, the port is closed, the files are gone."""
    if os.environ.get(ENV_URL):
        pytest.skip(f"{ENV_URL} is set: the session uses that server and starts none")
    record = tmp_path / "server.txt"
    result = run_inner_session(
        tmp_path,
        f"""
        import psycopg
        from pathlib import Path
        from tests.plugins.postgres import libpq_conninfo

        def test_record(postgres_db_url, postgres_url):
            with psycopg.connect(libpq_conninfo(postgres_url)) as conn:
                data_dir = conn.execute("show data_directory").fetchone()[0]
                port = conn.execute("show port").fetchone()[0]
            pid = (Path(data_dir) / "postmaster.pid").read_text().split()[0]
            Path({str(record)!r}).write_text(f"{{pid}} {{port}} {{data_dir}}")
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pid, port, data_dir = record.read_text().split(" ", 2)
    assert not process_alive(int(pid))
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", int(port)), timeout=2):
        pass
    assert not Path(data_dir).exists()
    assert not Path(data_dir).parent.exists()


# -------------------------------------------------------------------------------------------- browser

PAGE = """<!doctype html>
<html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>posdesk</title></head>
<body><h1 id="greeting">Pay invoice 1042</h1><p id="size"></p>
<script>
document.getElementById("size").textContent = `${window.innerWidth}x${window.innerHeight}@${devicePixelRatio}`;
</script></body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    from tests.fakes.serve import serve_app

    async def index(request: object) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def data(request: object) -> JSONResponse:
        return JSONResponse({"amount": "42.00"})

    app = Starlette(routes=[Route("/", index), Route("/data", data)])
    with serve_app(app) as base_url:
        yield base_url


def test_phone_page_loads_a_loopback_page_at_phone_size(phone_page: Page, site: str) -> None:
    phone_page.goto(site)
    assert phone_page.locator("#greeting").inner_text() == "Pay invoice 1042"
    assert phone_page.locator("#size").inner_text() == "390x844@2"
    assert phone_page.viewport_size == {"width": 390, "height": 844}
    assert phone_page.evaluate("navigator.maxTouchPoints") > 0
    assert phone_page.evaluate("navigator.language") == "en-US"
    with phone_page.expect_response(f"{site}/data") as response:
        phone_page.evaluate("fetch('/data').then(r => r.json())")
    assert response.value.json() == {"amount": "42.00"}


def test_phone_page_cannot_reach_beyond_loopback(phone_page: Page, site: str) -> None:
    phone_page.goto(site)
    outcome = phone_page.evaluate(
        "fetch('https://api.stripe.com/v1/charges').then(() => 'reached', e => 'blocked: ' + e.message)"
    )
    assert outcome.startswith("blocked")


def test_a_route_of_the_test_wins_over_the_guard(phone_page: Page, site: str) -> None:
    phone_page.route(
        "https://js.stripe.com/v3*",
        lambda route: route.fulfill(content_type="text/javascript", body="window.Stripe = () => 'stand-in';"),
    )
    phone_page.goto(site)
    phone_page.add_script_tag(url="https://js.stripe.com/v3")
    assert phone_page.evaluate("Stripe()") == "stand-in"


def test_browser_tests_are_marked(request: pytest.FixtureRequest, phone_page: Page) -> None:
    assert request.node.get_closest_marker("browser") is not None


def test_asyncio_works_in_a_test_that_does_not_use_the_browser() -> None:
    """Runs after the browser tests above in file order: Playwright's loop must not look 'running' here."""

    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42


@pytest.mark.slow
@pytest.mark.browser
def test_browser_coexists_with_asyncio_and_qt_and_screenshots_failures(tmp_path: Path) -> None:
    """One session that mixes browser, asyncio and Qt tests, a module-scoped page and a failing browser test."""
    from tests.plugins import require_tool
    from tests.plugins.browser import CHROMIUM

    require_tool("chromium", CHROMIUM)
    shots = tmp_path / "shots.txt"
    result = run_inner_session(
        tmp_path,
        f"""
        import asyncio
        from pathlib import Path

        import pytest

        @pytest.fixture(scope="module")
        def shared_page(browser):
            context = browser.new_context()
            page = context.new_page()
            yield page
            page.goto("about:blank")  # a Playwright call in the teardown of a test without the browser
            context.close()

        def test_1_browser(shared_page, phone_page):
            phone_page.set_content("<p>one</p>")
            assert phone_page.inner_text("p") == "one"
            shared_page.set_content("<p>shared</p>")

        def test_2_asyncio():
            async def f():
                await asyncio.sleep(0)
                return 1
            assert asyncio.run(f()) == 1

        def test_3_qt(qtbot):
            from PySide6.QtWidgets import QLabel
            label = QLabel("hello")
            qtbot.addWidget(label)
            assert label.text() == "hello"

        def test_4_browser_again(phone_page, tmp_path):
            phone_page.set_content("<p>failing page</p>")
            Path({str(shots)!r}).write_text(str(tmp_path))
            phone_page.evaluate("fetch('http://example.com/').catch(() => null)")
            phone_page.wait_for_timeout(200)
            assert False, "deliberate failure"

        def test_5_asyncio_last():
            assert asyncio.run(asyncio.sleep(0, result=5)) == 5
        """,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^1 failed, 4 passed in ", result.stdout, re.MULTILINE), output  # and no errors
    assert "test_4_browser_again" in output
    assert "phone_page screenshot" in output, output
    assert "http://example.com/" in output, output  # the blocked request is reported
    screenshot = Path(shots.read_text()) / "phone_page-call-failure.png"
    assert screenshot.read_bytes().startswith(b"\x89PNG"), output
    assert str(screenshot) in output


# ----------------------------------------------------------------------------------------------- smtp


def test_smtp_server_receives_a_message(smtp_server: SmtpTestServer) -> None:
    message = EmailMessage()
    message["From"] = "shop@posdesk.test"
    message["To"] = "client@example.test"
    message["Subject"] = "Invoice 1042 — 42,00 €"
    message.set_content("Pay here: http://127.0.0.1/pay/1042")
    message.add_alternative("<p>Pay <a href='http://127.0.0.1/pay/1042'>here</a></p>", subtype="html")
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, timeout=5) as client:
        client.send_message(message, to_addrs=["client@example.test", "copy@posdesk.test"])
    (received,) = smtp_server.wait_for(1)
    assert received.mail_from == "shop@posdesk.test"
    assert received.rcpt_tos == ("client@example.test", "copy@posdesk.test")
    assert received["Subject"] == "Invoice 1042 — 42,00 €"
    assert received.subject == "Invoice 1042 — 42,00 €"
    assert "http://127.0.0.1/pay/1042" in received.body()
    assert "<a href" in received.body(("html",))


def test_smtp_wait_for_times_out_with_a_clear_message(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(AssertionError, match="expected 1 message"):
        smtp_server.wait_for(1, timeout=0.2)


def test_smtp_starttls(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    server = smtp_server_factory(starttls=True, require_starttls=True)
    with (
        smtplib.SMTP(server.hostname, server.port, timeout=5) as client,
        pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS"),
    ):
        client.sendmail("shop@posdesk.test", ["client@example.test"], b"Subject: plain\r\n\r\nno")
    with smtplib.SMTP(server.hostname, server.port, timeout=5) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(server.cafile)))
        client.sendmail("shop@posdesk.test", ["client@example.test"], b"Subject: secret\r\n\r\nyes")
    (received,) = server.wait_for(1)
    assert received.subject == "secret"


# ------------------------------------------------------------------------------------------------- qr


def _blank_png(size: int = 40) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff" * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "text",
    ["http://127.0.0.1:8000/pay/inv_1042?token=a1B2-c3", "Café Lumière — 42,00 €"],
    ids=["url", "utf8"],
)
def test_qr_round_trip(text: str, tmp_path: Path) -> None:
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=6, border=4)
    assert decode_qr_png(buffer.getvalue()) == text
    path = tmp_path / "code.png"
    path.write_bytes(buffer.getvalue())
    assert decode_qr_png(path) == text
    assert decode_qr_png(str(path)) == text


def test_qr_decoding_an_image_without_a_code_fails() -> None:
    with pytest.raises(AssertionError, match="no QR code"):
        decode_qr_png(_blank_png())
