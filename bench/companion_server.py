"""A companion in its own process for the benchmarks: one uvicorn worker on loopback.

``python -m bench.companion_server DATABASE_URL`` migrates the database, creates a store (Simulator
gateway) with a paired terminal, adds ``GET /bench/trivial`` (the baseline route: same app, same
middleware, no work), prints one JSON line (url, store_id, credential, webhook_secret) and serves until
killed. The load generator runs in another process, so it does not share the server's interpreter.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from dataclasses import replace

import uvicorn
from fastapi.responses import PlainTextResponse

from posdesk.companion.app import create_app
from posdesk.companion.auth import new_pairing_code, pair_terminal
from posdesk.companion.config import CompanionConfig
from posdesk.companion.store_settings import create_store

STORE_SETTINGS = {
    "business_name": "Bench Salon",
    "address": "1 Bench Street",
    "languages": ["en", "es", "fr"],
    "tips_allowed": True,
    "tip_presets": [{"percent": "0.15"}, {"percent": "0.18"}, {"percent": "0.20"}],
    "link_expiry_hours": 72,
}


def main(database_url: str) -> None:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY (see posdesk/companion/embedded.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # The load comes from one address: lift the per-address limit, which would otherwise answer 429.
    config = replace(CompanionConfig.for_demo(database_url, url), rate_limit_per_minute=10**9)
    app = create_app(config)

    @app.get("/bench/trivial", include_in_schema=False)
    def trivial() -> PlainTextResponse:
        return PlainTextResponse("ok")

    with app.state.db.write() as session:
        store = create_store(session, "Bench Salon", "USD", settings=STORE_SETTINGS, gateway_kind="simulator")
        code = new_pairing_code(session, store.id)
    with app.state.db.write() as session:
        _terminal, credential = pair_terminal(session, code, "Bench till")
    print(
        json.dumps(
            {
                "url": url,
                "store_id": store.id,
                "credential": credential,
                "webhook_secret": config.simulator_webhook_secret,
                "nonce": secrets.token_hex(4),
            }
        ),
        flush=True,
    )
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


if __name__ == "__main__":
    main(sys.argv[1])
