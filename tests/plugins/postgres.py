"""A real PostgreSQL server for the test session, and a fresh database per test.

Fixtures:

* ``postgres_url`` (session) -- ``postgresql+psycopg://postgres@127.0.0.1:PORT/posdesk_test``. The server
  is started once per session from Debian's ``/usr/lib/postgresql/*/bin`` (or ``initdb``/``pg_ctl`` on
  PATH) in a temporary directory on loopback, and stopped with ``pg_ctl`` at the end of the session
  (also from ``atexit`` when the session dies on the way). As root the server runs as the ``postgres``
  system user (``initdb`` refuses root). Set ``POSDESK_TEST_POSTGRES_URL`` to use an existing server
  instead; its user must be allowed to create databases.
* ``postgres_db_url`` (function) -- a database of its own for one test (``CREATE DATABASE test_<uuid>``),
  dropped afterwards (``WITH (FORCE)``, so connections a test leaves open do not block it).
* ``db_url`` (function) -- parametrized ``[sqlite]`` / ``[postgres]``: a SQLite file in ``tmp_path`` or a
  fresh PostgreSQL database. The postgres case carries the ``postgres`` marker; the server only starts when
  such a case runs.

Tests that use ``postgres_url`` or ``postgres_db_url`` get the ``postgres`` marker automatically, so
``-m "not postgres"`` leaves them out.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.plugins import missing_requirement, require_tool

ENV_URL = "POSDESK_TEST_POSTGRES_URL"
SESSION_DATABASE = "posdesk_test"
SUPERUSER = "postgres"
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"

#: The parameters of ``db_url``; reuse them to parametrize something else over the same back ends.
database_urls = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# --------------------------------------------------------------------------------------------- helpers


def sqlalchemy_url(url: str, database: str | None = None) -> str:
    """``url`` with the psycopg (3) driver, optionally pointing at another database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    parsed = parsed.set(drivername="postgresql+psycopg")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def libpq_conninfo(url: str) -> str:
    """The libpq connection URI for a SQLAlchemy PostgreSQL URL (for ``psycopg.connect``).

    libpq reads ``postgresql://`` URIs itself, query options included: the same URL without the driver.
    """
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_until_accepting(url: str, timeout: float = 30.0) -> None:
    """Connect until the server answers ``select 1`` (or raise after ``timeout`` seconds)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(libpq_conninfo(url), connect_timeout=2, autocommit=True) as conn:
                conn.execute("select 1")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL at {url} does not accept connections: {error}") from error
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _version_key(bindir: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([\d.]+)/bin$", bindir)
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


def find_bindir() -> Path | None:
    """Debian's newest ``/usr/lib/postgresql/N/bin``, else the directory of ``initdb`` on PATH."""
    from glob import glob

    for bindir in sorted(glob(DEBIAN_BINDIRS), key=_version_key, reverse=True):
        if os.access(os.path.join(bindir, "initdb"), os.X_OK) and os.access(
            os.path.join(bindir, "pg_ctl"), os.X_OK
        ):
            return Path(bindir)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl", path=os.path.dirname(initdb)):
        return Path(initdb).parent
    return None


# ---------------------------------------------------------------------------------------- the server


class LocalPostgres:
    """A throw-away PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = 0
        self._as_user: list[str] = []
        self._started = False
        self._stopped = False
        self._sigterm_handler: Callable[[int, object], None] | None = None
        if os.geteuid() == 0:
            import pwd

            try:
                account = pwd.getpwnam(SUPERUSER)
            except KeyError:
                missing_requirement(
                    "PostgreSQL: running as root, but there is no 'postgres' system user to run the "
                    "server as (install Debian's postgresql package: scripts/system-packages)"
                )
            self._as_user = [require_tool("runuser"), "-u", SUPERUSER, "--"]
            # pytest's own temp dirs are private to root: use a directory the postgres user can reach.
            self.root = Path(tempfile.mkdtemp(prefix="posdesk-pg-", dir="/tmp"))
            os.chown(self.root, account.pw_uid, account.pw_gid)
        else:
            self.root = Path(tempfile.mkdtemp(prefix="posdesk-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"

    # The URL of the session database (created by start()).
    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{SESSION_DATABASE}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.setdefault("LC_ALL", "C.UTF-8")
        return subprocess.run(
            [*self._as_user, *args],
            cwd=self.root,  # the postgres user cannot enter root's working directory
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        initdb = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-A", "trust",
            "-U", SUPERUSER,
            "-E", "UTF8",
            "--locale=C",
            "-N",  # no fsync of the new cluster
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        atexit.register(self.stop)
        self._watch_sigterm()
        self._started = True
        for _attempt in range(5):
            self.port = _free_port()
            started = self._pg_ctl_start()
            if started.returncode == 0:
                break
            if "could not bind" not in self._log_tail() and "in use" not in self._log_tail():
                raise RuntimeError(
                    f"pg_ctl start failed ({started.returncode}):\n{started.stdout}\n{started.stderr}\n"
                    f"--- {self.logfile}:\n{self._log_tail()}"
                )
            # Another process took the port between the probe and the bind: try another one.
        else:
            raise RuntimeError(f"PostgreSQL could not bind a loopback port:\n{self._log_tail()}")
        admin_url = sqlalchemy_url(self.url, database="postgres")
        wait_until_accepting(admin_url)
        import psycopg

        with psycopg.connect(libpq_conninfo(admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{SESSION_DATABASE}"')

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {shlex.quote(str(self.root))}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        return self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.datadir),
            "-l", str(self.logfile),
            "-o", options,
            "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def halt(self) -> None:
        """Stop the server and keep its data: the database went away (see :meth:`resume`)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the halted server again on the same port, with the same data."""
        started = self._pg_ctl_start()
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{started.stderr}\n{self._log_tail()}")

    def _watch_sigterm(self) -> None:
        """A SIGTERM (a cancelled CI job, ``kill``) skips atexit: stop the server, then die as asked."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone else handles it

        def on_sigterm(signum: int, frame: object) -> None:
            self.stop()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._sigterm_handler = on_sigterm

    def _unwatch_sigterm(self) -> None:
        handler = self._sigterm_handler
        if handler is not None and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(signal.SIGTERM) is handler:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop the server (fast shutdown, then immediate, then SIGKILL) and delete its files. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        self._unwatch_sigterm()
        if self._started:
            pid = self._postmaster_pid()
            pg_ctl = str(self.bindir / "pg_ctl")
            for mode in ("fast", "immediate"):
                if self._postmaster_pid() is None:
                    break
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    self._run(
                        pg_ctl, "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop", timeout=40
                    )
            # pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
            if pid is not None and not _wait_for_exit(pid, timeout=10):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                _wait_for_exit(pid, timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL server for the session (see the module docstring)."""
    external = os.environ.get(ENV_URL)
    if external:
        url = sqlalchemy_url(external)
        wait_until_accepting(url, timeout=10)
        yield url
        return
    bindir = find_bindir()
    if bindir is None:
        require_tool("initdb")  # skips locally / fails in CI, naming the tool
        raise AssertionError("unreachable")
    server = LocalPostgres(bindir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_db_url(postgres_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database on the session's server, dropped after the test."""
    import psycopg
    from psycopg import sql

    name = f"test_{uuid.uuid4().hex}"
    admin = libpq_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sqlalchemy_url(postgres_url, database=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=database_urls)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``[sqlite]``: a SQLite file URL in ``tmp_path``; ``[postgres]``: a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'posdesk-test.db'}"
    return str(request.getfixturevalue("postgres_db_url"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"postgres_url", "postgres_db_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
