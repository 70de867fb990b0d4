"""Real programs for the reliability tests: the companion as its own process, a TCP link that can be
cut, and the little waits between them.

* :class:`CompanionProcess` -- ``posdesk-companion serve`` in a subprocess on a fixed loopback port and
  database, with fixed secrets so a restart (after ``kill()``, a SIGKILL) serves the same links, forms
  and webhook signatures.
* :func:`prepare_store` -- a migrated companion database with a store and a paired terminal, made
  directly in the database before the process starts (what ``create-store`` and pairing leave behind).
* :class:`TcpLink` -- a loopback TCP forwarder to a server; ``cut()`` drops every connection and
  refuses new ones (the shop's internet is down), ``restore()`` lets them through again.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from posdesk.companion.app import open_database
from posdesk.companion.config import CompanionConfig
from tests.companion.conftest import PairedTerminal, add_store
from tests.waiting import free_port

START_TIMEOUT = 30.0



def prepare_store(database_url: str, name: str = "Test Salon", **settings: Any) -> PairedTerminal:
    """Migrate ``database_url`` and add a store with a paired terminal; the terminal's credential."""
    config = CompanionConfig.for_demo(database_url, "http://127.0.0.1")
    db = open_database(config)
    try:
        return add_store(SimpleNamespace(state=SimpleNamespace(db=db)), name=name, settings=settings)  # type: ignore[arg-type]
    finally:
        db.dispose()


class CompanionProcess:
    """``posdesk-companion serve`` as a child process (see the module docstring)."""

    def __init__(self, database_url: str, log_file: Path, *, port: int | None = None, **env: str) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret_key = secrets.token_urlsafe(32)
        self.webhook_secret = secrets.token_urlsafe(32)
        self.log_file = log_file
        self.extra_env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def config(self) -> CompanionConfig:
        """The configuration the child runs with (its secrets sign the page's forms)."""
        return CompanionConfig(
            database_url=self.database_url,
            public_url=self.url,
            secret_key=self.secret_key,
            simulator_webhook_secret=self.webhook_secret,
        )

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "POSDESK_PUBLIC_URL": self.url,
            "POSDESK_SECRET_KEY": self.secret_key,
            "POSDESK_SIMULATOR_WEBHOOK_SECRET": self.webhook_secret,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("POSDESK_DEMO", None)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "posdesk.companion.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the companion exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the companion did not start within {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye -- a power cut or the OOM killer."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_file.read_text("utf-8", "replace") if self.log_file.exists() else ""


@contextlib.contextmanager
def companion_process(database_url: str, log_file: Path, **kwargs: Any) -> Iterator[CompanionProcess]:
    process = CompanionProcess(database_url, log_file, **kwargs)
    process.start()
    try:
        yield process
    finally:
        process.stop()


class TcpLink:
    """A loopback TCP forwarder to ``target_port`` that can be cut and restored (see the module docstring)."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.up = False

    def restore(self) -> None:
        """Let connections through again (listen on the same port)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self.up = True
        self._thread = threading.Thread(target=self._accept, args=(listener,), name="tcp-link", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.up = False
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
        if self._thread is not None:
            self._thread.join(5)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if not self.up:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        # Each pump closes the socket it reads from; shutting the other down ends its partner pump.
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._sockets.discard(src)
            src.close()


@contextlib.contextmanager
def tcp_link(target_port: int) -> Iterator[TcpLink]:
    link = TcpLink(target_port)
    link.restore()
    try:
        yield link
    finally:
        link.cut()


# -- the client's phone, without JavaScript ------------------------------------------------------------
CARD = {"sim_number": "4242 4242 4242 4242", "sim_exp": "12 / 39", "sim_cvc": "123"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def pay_link(base_url: str, token: str, *, version: int = 1, tip: str = "none", **fields: str) -> httpx.Response:
    """Open ``/pay/<token>`` and pay it with the Simulator's 4242 card (or ``fields``); the POST's answer."""
    with httpx.Client(base_url=base_url, timeout=30) as phone:
        page = phone.get(f"/pay/{token}")
        assert page.status_code == 200, page.text[:500]
        form = {"csrf": csrf_of(page.text), "version": str(version), "tip": tip, **CARD, **fields}
        return phone.post(f"/pay/{token}/pay", data=form)
