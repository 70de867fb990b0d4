"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

Fixtures:

* ``smtp_server`` (function) -- a started :class:`SmtpTestServer` on ``127.0.0.1`` and a free port
  (``smtp_server.hostname``, ``smtp_server.port``). Received mail is in ``smtp_server.messages`` (a list of
  :class:`ReceivedMessage`: the parsed ``email.message.EmailMessage`` plus the envelope sender and
  recipients); ``smtp_server.wait_for(count, timeout=5)`` waits until that many have arrived.
* ``smtp_server_factory`` (function) -- ``smtp_server_factory(starttls=False, require_starttls=False,
  **smtp_kwargs)`` starts more servers, e.g. one offering STARTTLS with a self-signed certificate for
  ``127.0.0.1``/``localhost`` (clients trust ``server.cafile``). Every server it made stops after the test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.plugins import require_tool


@dataclasses.dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes

    def __getitem__(self, header: str) -> Any:
        """A header of the message: ``received["Subject"]``."""
        return self.message[header]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def body(self, preferencelist: tuple[str, ...] = ("plain", "html")) -> str:
        """The text of the preferred body part (plain text first), decoded."""
        part = self.message.get_body(preferencelist=preferencelist)
        return "" if part is None else str(part.get_content())


class _CollectingHandler:
    def __init__(self, server: SmtpTestServer) -> None:
        self._server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self._server._received(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=parsed,
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


class SmtpTestServer(Controller):
    """An aiosmtpd ``Controller`` that collects what it receives (port 0 picks a free port)."""

    def __init__(
        self,
        hostname: str = "127.0.0.1",
        port: int = 0,
        *,
        cafile: Path | None = None,
        **smtp_kwargs: Any,
    ) -> None:
        self.messages: list[ReceivedMessage] = []
        self.cafile = cafile
        self._arrived = threading.Condition()
        smtp_kwargs.setdefault("ready_timeout", 10.0)
        super().__init__(_CollectingHandler(self), hostname=hostname, port=port, **smtp_kwargs)

    def _create_server(self) -> Any:
        # Bind, then learn the port the system chose (aiosmtpd connects to self.port once started).
        create = super()._create_server()

        async def bind() -> asyncio.Server:
            server = await create
            assert isinstance(server, asyncio.Server)
            self.port = int(server.sockets[0].getsockname()[1])
            return server

        return bind()

    def _received(self, message: ReceivedMessage) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 5) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages have arrived; return all received so far."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                subjects = [m.subject for m in self.messages]
                raise AssertionError(
                    f"SMTP server on {self.hostname}:{self.port}: expected {count} message(s) within "
                    f"{timeout}s, received {len(self.messages)}: {subjects}"
                )
            return list(self.messages)

    def clear(self) -> None:
        with self._arrived:
            self.messages.clear()


@pytest.fixture(scope="session")
def smtp_tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for ``localhost`` and ``127.0.0.1`` (made with openssl)."""
    openssl = require_tool("openssl")
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpTestServer]]:
    """Start SMTP test servers: ``smtp_server_factory(starttls=False, require_starttls=False, **kw)``."""
    started: list[SmtpTestServer] = []

    def make(*, starttls: bool = False, require_starttls: bool = False, **smtp_kwargs: Any) -> SmtpTestServer:
        cafile = None
        if starttls or require_starttls:
            cert, key = request.getfixturevalue("smtp_tls_certificate")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            smtp_kwargs.update(tls_context=context, require_starttls=require_starttls)
            cafile = cert
        server = SmtpTestServer(cafile=cafile, **smtp_kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    """A plain SMTP server on 127.0.0.1 that keeps what it receives (see the module docstring)."""
    return smtp_server_factory()
