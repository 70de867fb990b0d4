"""``posdesk-companion``: serve the companion, create a store, make a pairing code, migrate.

Every command reads its configuration once (:class:`CompanionConfig`, from the environment; see
``docs/companion.md``); ``--database-url`` overrides ``DATABASE_URL``. ``serve`` refuses to start with missing or placeholder secrets unless ``--demo``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import logging.config
import secrets
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from posdesk import __version__, logs
from posdesk.companion.config import CompanionConfig, ConfigError
from posdesk.companion.database import Database

DEFAULT_PORT = 8700
log = logging.getLogger("posdesk.companion")


def _config(args: argparse.Namespace) -> CompanionConfig:
    return CompanionConfig.from_env(database_url=getattr(args, "database_url", None))


def _database(args: argparse.Namespace) -> Database:
    from posdesk.companion.app import open_database

    return open_database(_config(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from posdesk.companion.app import open_database

    config = _config(args)
    if args.demo:  # random secrets unless set, the same for every worker of this run
        config = replace(
            config,
            demo=True,
            secret_key=config.secret_key or secrets.token_urlsafe(32),
            simulator_webhook_secret=config.simulator_webhook_secret or secrets.token_urlsafe(32),
        )
    try:
        config.checked()
    except ConfigError as exc:
        print(f"posdesk-companion: cannot start: {exc}", file=sys.stderr)
        return 2
    log_config = logs.server_log_config(verbose=args.verbose)  # link tokens and keys never reach the log
    logging.config.dictConfig(log_config)
    workers = f"{args.workers} workers" if args.workers > 1 else "1 worker"
    log.info("posdesk-companion %s on http://%s:%d (%s)", __version__, args.host, args.port, workers)
    if args.workers > 1:
        open_database(config).dispose()  # migrate once, before the workers start
    _run_uvicorn(
        config,
        workers=args.workers,
        log_config=log_config,
        host=args.host,
        port=args.port,
        access_log=False,  # ours (posdesk.companion.access) redacts link tokens; uvicorn's would not
        proxy_headers=True,
        timeout_graceful_shutdown=5,
        ws="none",
        # A worker that has not started within this is restarted. On a busy small machine importing the
        # app takes longer than uvicorn's 5 s default, and a restarted worker would only start over.
        timeout_worker_healthcheck=60,
    )
    return 0


def _run_uvicorn(config: CompanionConfig, *, workers: int, **options: Any) -> None:
    """``uvicorn.run`` for an app made from ``config`` in each worker process.

    ``uvicorn.run`` takes only an import string for several workers, which would leave the workers to
    read the environment again; its supervisor takes the configuration object itself (pickled into each
    spawned worker), so every worker builds its app from the very ``config`` checked here.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from posdesk.companion.app import create_app

    if workers == 1:
        uvicorn.run(create_app(config), **options)
        return
    server_config = uvicorn.Config(
        functools.partial(create_app, config), factory=True, workers=workers, **options
    )
    Multiprocess(server_config, sockets=[server_config.bind_socket()]).run()


def cmd_create_store(args: argparse.Namespace) -> int:
    from posdesk.companion.auth import new_pairing_code
    from posdesk.companion.stores import SettingsError, create_store

    db = _database(args)
    try:
        with db.write() as session:
            store = create_store(session, args.name, args.currency.upper())
            code = new_pairing_code(session, store.id)
    except SettingsError as exc:
        print(f"posdesk-companion: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    print(f"store id: {store.id}")
    print(f"pairing code: {code}  (one use, valid 24 hours)")
    return 0


def cmd_pairing_code(args: argparse.Namespace) -> int:
    from posdesk.companion.auth import new_pairing_code
    from posdesk.companion.models import Store

    db = _database(args)
    try:
        with db.write() as session:
            if session.get(Store, args.store) is None:
                print(f"posdesk-companion: no store with id {args.store}", file=sys.stderr)
                return 2
            code = new_pairing_code(session, args.store)
    finally:
        db.dispose()
    print(f"pairing code: {code}  (one use, valid 24 hours)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from posdesk.companion import migrations

    db = _database(args)
    try:
        print(f"database at revision {migrations.current_revision(db.engine)}")
    finally:
        db.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posdesk-companion", description="The posdesk companion service.")
    parser.add_argument("--version", action="version", version=f"posdesk-companion {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_database(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--database-url", help="SQLAlchemy URL (default: $DATABASE_URL, else a SQLite file)")
        return sub

    serve = with_database(commands.add_parser("serve", help="run the companion (uvicorn)"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--demo", action="store_true", help="demo mode: random secrets, interactive API docs")
    serve.add_argument("--verbose", action="store_true", help="also the INFO lines of uvicorn and Alembic")
    serve.set_defaults(handler=cmd_serve)

    store = with_database(commands.add_parser("create-store", help="create a store; prints a pairing code"))
    store.add_argument("--name", required=True)
    store.add_argument("--currency", required=True, help="ISO 4217 code, e.g. USD")
    store.set_defaults(handler=cmd_create_store)

    code = with_database(commands.add_parser("pairing-code", help="a new one-time pairing code for a store"))
    code.add_argument("--store", required=True, help="the store id")
    code.set_defaults(handler=cmd_pairing_code)

    migrate = with_database(commands.add_parser("migrate", help="apply database migrations"))
    migrate.set_defaults(handler=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigError as exc:
        print(f"posdesk-companion: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
