"""Log files for the POS and the companion: rotating, in ``data_dir()/logs``, with secrets taken out.

Links are capabilities and gateway keys are money, so every record goes through :class:`RedactSecrets`
before any handler writes it: ``/pay/<token>`` paths, bearer credentials, Stripe keys
(``sk_live_``/``sk_test_``/``rk_*``/``whsec_``), Cloud9's GMPW, ``Authorization`` headers and the values
of secret-named fields (``password=``, ``"auth_token": ...``) are replaced by a marker. The filter sits on
the handlers, not on a logger, so it sees the records of every library that logs through them,
tracebacks included.

``POSDESK_LOG_LEVEL`` (``DEBUG``, ``INFO``, ``WARNING``...) changes the level; INFO by default. The
libraries in :data:`QUIET_LIBRARIES` say only warnings and errors unless asked to be verbose (``--verbose``
or ``POSDESK_LOG_LEVEL=DEBUG``): their INFO lines at start (Alembic's plugin set-up, uvicorn's banner,
once per worker) tell an operator nothing.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from posdesk import paths
from posdesk.config import PosConfig

if TYPE_CHECKING:
    from logging.handlers import RotatingFileHandler

LOG_FOLDER = "logs"
MAX_BYTES = 1_000_000  # a month of a busy terminal's INFO lines is a few MB: keep 5 x 1 MB
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"
REDACTED = "[redacted]"
QUIET_LIBRARIES = ("alembic", "uvicorn", "uvicorn.error")

# Order matters: specific shapes first, then the generic "secret-named field = value" rule. Compiled (and
# kept) by ``re`` when the first record is redacted: a POS starting up writes none before its first frame.
_RULES: tuple[tuple[str, str], ...] = (
    # Payment links: /pay/<token> (also inside full URLs); the token is the capability.
    (r"/pay/[A-Za-z0-9_\-]{8,}", "/pay/[token]"),
    # Authorization headers of any scheme, as text ("Authorization: Basic x") or in a dict repr.
    (
        r"""(?i)(\bauthorization\b['"]?\s*[:=]\s*['"]?)(?:[A-Za-z]+\s+)?[^\s'",}]+""",
        r"\1" + REDACTED,
    ),
    (r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+", "Bearer " + REDACTED),
    (r"\b((?:sk|rk|pk)_(?:live|test)_)[A-Za-z0-9]+", r"\1" + REDACTED),
    (r"\b(whsec_)[A-Za-z0-9+/=]+", r"\1" + REDACTED),
    # key=value, key: value, "key": "value" for keys whose values are secret.
    (
        r"""(?ix)
            (\b(?:gmpw|password|passwd|pwd|secret|secret_key|client_secret|webhook_secret|api_key|apikey|
                auth_token|access_token|refresh_token|link_token|token|credential|pairing_code)\b
             ['"]?\s*[:=]\s*['"]?)
            [^\s'",&}]+
            """,
        r"\1" + REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with link tokens, credentials and keys replaced by a marker."""
    for pattern, replacement in _RULES:
        text = re.sub(pattern, replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (arguments merged in) and traceback text through :func:`redact`.

    Never drops a record: a log line without its secret is still worth having.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what we can, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RotatingLogFile(logging.Handler):
    """A :class:`logging.handlers.RotatingFileHandler` at ``path``, made when the first record comes:
    that module imports socket, pickle and queue (~5 ms), which a POS writes no record before its
    first frame to need."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.file: RotatingFileHandler | None = None

    def rotating(self) -> RotatingFileHandler:
        if self.file is None:
            from logging.handlers import RotatingFileHandler

            self.file = RotatingFileHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
            )
            self.file.setFormatter(self.formatter)
        return self.file

    def emit(self, record: logging.LogRecord) -> None:  # under this handler's lock, filters applied
        self.rotating().emit(record)

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        super().close()


def log_dir() -> Path:
    """Where the log files are (created on first use)."""
    folder = paths.data_dir() / LOG_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_file(program: str = "posdesk") -> Path:
    """The current log file of ``program`` (``posdesk`` or ``posdesk-companion``)."""
    return log_dir() / f"{program}.log"


def _level() -> int:
    return PosConfig.from_env().log_level


def _library_level(verbose: bool) -> int:
    return _level() if verbose or _level() <= logging.DEBUG else max(logging.WARNING, _level())


def setup_logging(
    program: str = "posdesk", *, to_file: bool = True, console: bool = True, verbose: bool = False
) -> Path | None:
    """Send every log record through the redacting filter to a rotating file, and warnings to stderr.

    Returns the log file's path (None when ``to_file`` is off or the folder cannot be written, in which
    case logging still goes to stderr). Safe to call twice: earlier posdesk handlers are replaced.
    """
    root = logging.getLogger()
    root.setLevel(_level())
    for handler in list(root.handlers):
        if getattr(handler, "posdesk", False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(FORMAT)
    redactor = RedactSecrets()
    handlers: list[logging.Handler] = []
    path: Path | None = None
    if to_file:
        try:
            path = log_file(program)
            handlers.append(RotatingLogFile(path))
        except OSError as exc:  # a read-only profile must not stop the POS from starting
            path = None
            print(f"{program}: cannot write logs: {exc}", file=sys.stderr)
    if console and sys.stderr is not None:  # a windowed Windows build has no stderr at all
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(max(logging.WARNING, _level()))  # the terminal shows problems; the file, the story
        handlers.append(stderr)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
        handler.posdesk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(_library_level(verbose))
    logging.captureWarnings(True)
    return path


def server_log_config(*, verbose: bool = False) -> dict[str, object]:
    """A ``logging.config.dictConfig`` for the hosted companion: redacted lines on stderr.

    Given to uvicorn as ``log_config`` so that each worker process sets it up too. A server logs to
    stderr (journald or the container runtime keeps and rotates it): several workers sharing one
    rotating file would rotate it from under each other.
    """
    level = logging.getLevelName(_level())
    library_level = logging.getLevelName(_library_level(verbose))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "posdesk.logs.RedactSecrets"}},
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["redact"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # uvicorn's and Alembic's loggers hand their records to the root's redacting handler.
        "loggers": {
            name: {"level": library_level, "handlers": [], "propagate": True}
            for name in (*QUIET_LIBRARIES, "uvicorn.access")
        },
    }
