"""A companion in its own process for the benchmarks: one uvicorn worker on loopback (or several).

``python -m bench.companion_server DATABASE_URL`` migrates the database, creates a store (Simulator
gateway) with a paired terminal, adds ``GET /bench/trivial`` (the baseline route: same app, same
middleware, no work), prints one JSON line (url, store_id, credential, webhook_secret) and serves until
killed. The load generator runs in another process, so it does not share the server's interpreter.
``--workers N`` starts N-1 further processes accepting on the same socket, each with its own app on the
same database and secrets (the model of ``uvicorn --workers``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code, pair_terminal
from posdesk.companion.config import CompanionConfig
from posdesk.companion.stores import create_store

STORE_SETTINGS = {
    "business_name": "Bench Salon",
    "address": "1 Bench Street",
    "languages": ["en", "es", "fr"],
    "tips_allowed": True,
    "tip_presets": [{"percent": "0.15"}, {"percent": "0.18"}, {"percent": "0.20"}],
    "link_expiry_hours": 72,
}


def _app(config: CompanionConfig) -> FastAPI:
    app = create_app(config)

    @app.get("/bench/trivial", include_in_schema=False)
    def trivial() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


def _serve(app: FastAPI, sock: socket.socket) -> None:
    uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=1,
            http=os.environ.get("POSDESK_BENCH_HTTP", "auto"),  # "h11" to compare with the pure-Python parser
        )
    ).run(sockets=[sock])


def _config(database_url: str, url: str) -> CompanionConfig:
    # The load comes from one address: lift the per-address limit, which would otherwise answer 429.
    config = replace(CompanionConfig.for_demo(database_url, url), rate_limit_per_minute=10**9)
    shared = os.environ.get(_SECRETS)  # a further worker: the first one's secrets
    if shared:
        secret_key, webhook_secret = json.loads(shared)
        config = replace(config, secret_key=secret_key, simulator_webhook_secret=webhook_secret)
    return config


def _die_with_parent() -> None:
    """In a further worker (Linux): SIGTERM when the first worker ends, however it ends."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker(database_url: str, url: str, fd: int) -> None:
    """A further worker: its own app on the first worker's listening socket (uvicorn's ``--workers``
    model: every process accepts on one socket)."""
    sock = socket.socket(fileno=fd)
    app = _app(_config(database_url, url))
    print("ready", flush=True)
    _serve(app, sock)


def main(database_url: str, workers: int = 1) -> None:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY (see posdesk/companion/embedded.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = _config(database_url, url)
    app = _app(config)
    with app.state.db.write() as session:
        store = create_store(session, "Bench Salon", "USD", settings=STORE_SETTINGS, gateway_kind="simulator")
        code = new_pairing_code(session, store.id)
    with app.state.db.write() as session:
        _terminal, credential = pair_terminal(session, code, "Bench till")
    others = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.companion_server",
                database_url,
                "--worker-of",
                url,
                str(sock.fileno()),
            ],
            pass_fds=(sock.fileno(),),
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, _SECRETS: json.dumps([config.secret_key, config.simulator_webhook_secret])},
            preexec_fn=_die_with_parent,
        )
        for _ in range(workers - 1)
    ]
    try:
        for other in others:
            assert other.stdout is not None
            if other.stdout.readline().strip() != "ready":
                raise RuntimeError("a further benchmark worker did not start")
        print(
            json.dumps(
                {
                    "url": url,
                    "store_id": store.id,
                    "credential": credential,
                    "webhook_secret": config.simulator_webhook_secret,
                    "nonce": secrets.token_hex(4),
                    "pids": [os.getpid(), *(other.pid for other in others)],
                }
            ),
            flush=True,
        )
        _serve(app, sock)
    finally:
        for other in others:
            other.terminate()
        for other in others:
            try:
                other.wait(10)
            except subprocess.TimeoutExpired:
                other.kill()


_SECRETS = "POSDESK_BENCH_WORKER_SECRETS"

if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[2] == "--worker-of":
        _worker(sys.argv[1], sys.argv[3], int(sys.argv[4]))
    else:
        main(sys.argv[1], int(sys.argv[3]) if len(sys.argv) == 4 and sys.argv[2] == "--workers" else 1)
