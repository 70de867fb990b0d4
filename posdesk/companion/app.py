"""The companion web app: the POS API, the payment page and the gateways' webhooks, in one FastAPI app.

:func:`create_app` checks the configuration (refusing placeholder secrets outside demo mode), opens the
database and migrates it, and wires the event bus that wakes event streams after each commit. It puts
``config``, ``db``, ``bus`` and the rate limiters on ``app.state`` for the routers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from posdesk.companion import communicator, error_tracking, migrations
from posdesk.companion.api import communicator as communicator_api
from posdesk.companion.api import refunds as refunds_api
from posdesk.companion.api import reviews as reviews_api
from posdesk.companion.api import router as api_router
from posdesk.companion.background import repeat, run_with_app
from posdesk.companion.config import CompanionConfig
from posdesk.companion.database import Database
from posdesk.companion.events import EventBus
from posdesk.companion.health import database_unavailable
from posdesk.companion.invoices import InvoiceRefused, expire_due_invoices
from posdesk.companion.pay import confirm_routes
from posdesk.companion.pay import routes as pay_routes
from posdesk.companion.payments import reconcile
from posdesk.companion.ratelimit import RateLimiter
from posdesk.companion.refusal import Refused
from posdesk.companion.relay import PgRelay
from posdesk.companion.security_headers import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from posdesk.companion.server_timing import ServerTimingMiddleware
from posdesk.companion.startup_gc import FreezeAfterStartupMiddleware
from posdesk.companion.webhooks import pipeline as webhook_pipeline
from posdesk.companion.webhooks import routes as webhook_routes
from posdesk.companion.webhooks import twilio as twilio_webhooks

log = logging.getLogger("posdesk.companion")

EXPIRY_INTERVAL = 30.0  # seconds between sweeps for links past their expiry
PAIRING_ATTEMPTS_PER_MINUTE = 10
STATIC_DIR = Path(__file__).resolve().parent / "static"


def open_database(config: CompanionConfig) -> Database:
    """Open the configured database and bring its schema up to date."""
    db = Database(config.database_url)
    # On SQLite take the write lock up front, so two processes starting together migrate in turn.
    engine = db.engine.execution_options(posdesk_begin="BEGIN IMMEDIATE") if db.is_sqlite else db.engine
    try:
        migrations.upgrade(engine)
    except BaseException:  # a refused (newer) schema or an unreachable server: close what was opened
        db.dispose()
        raise
    return db


def create_app(config: CompanionConfig) -> FastAPI:
    """Build the companion app for ``config`` (raises :class:`ConfigError` on unusable secrets)."""
    config = config.checked()
    error_tracking.start(config.sentry_dsn, config.sentry_environment)
    db = open_database(config)
    bus = EventBus()
    bus.watch(db.write_sessionmaker)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        relay = PgRelay(db.url, bus) if not db.is_sqlite else None
        if relay is not None:
            relay.start()
        try:
            yield
        finally:
            if relay is not None:
                await run_in_threadpool(relay.stop)

    app = FastAPI(
        title="posdesk companion",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs" if config.demo else None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.db = db
    app.state.bus = bus
    # The Simulator's signed events go through the webhook pipeline (handed in: no import circle).
    app.state.webhook_sink_factory = webhook_pipeline.sink_factory(db)
    app.state.rate_limiter = RateLimiter(config.rate_limit_per_minute)
    app.state.pairing_limiter = RateLimiter(PAIRING_ATTEMPTS_PER_MINUTE)
    run_with_app(app, "posdesk-expiry", _expire_links_forever)
    communicator.install(app, config)  # the Communicator's channels (from the configuration) and its retries

    # Outermost first: the log sees every answer, headers go on 413s too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(FreezeAfterStartupMiddleware)  # acts on the lifespan only (see startup_gc)
    app.add_middleware(ServerTimingMiddleware)  # added last: outermost, times all of the above

    # The payment page first: routes are matched in order, and a phone opening its link is the request
    # the companion serves most; then webhooks, which come in bursts (walking the API's routes first was
    # ~15% of a delivery's CPU). No /pay path is also an /api/v1 or /webhooks path, so order only costs.
    # The page-confirm steps (gateways confirming in the browser) come before the generic /pay routes.
    app.include_router(confirm_routes.page_router)
    app.include_router(pay_routes.router)
    app.include_router(twilio_webhooks.router)  # before /webhooks/{gateway}/{store_id}, which would match it
    app.include_router(webhook_routes.router)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(communicator_api.router, prefix="/api/v1")
    app.include_router(refunds_api.router, prefix="/api/v1")
    app.include_router(reviews_api.router, prefix="/api/v1")
    for module in (pay_routes, webhook_routes, reconcile):
        install = getattr(module, "install", None)
        if callable(install):  # a router that needs more than routes (static files, state) adds it here
            install(app)
    if STATIC_DIR.is_dir() and not any(getattr(r, "path", None) == "/static" for r in app.routes):
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(InvoiceRefused)
    async def _invoice_refused(_request: Request, exc: InvoiceRefused) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status_code)

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        # A review, tender, gift card or tip split refused (the refund route adds Retry-After itself; the
        # payment page answers its own).
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unreachable(_request: Request, exc: Exception) -> JSONResponse:
        db.health.failed(exc)  # one warning while it lasts, not a traceback per request
        return JSONResponse({"detail": "the database is unreachable; try again shortly"}, status_code=503)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            with db.read() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            db.health.failed(exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        db.health.succeeded()
        return JSONResponse({"status": "ok"})

    return app


async def _expire_links_forever(app: FastAPI) -> None:
    db: Database = app.state.db
    await repeat(
        "expiring links", EXPIRY_INTERVAL, lambda: run_in_threadpool(expire_due_invoices, db), db.health
    )


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several workers): configuration from the environment."""
    return create_app(CompanionConfig.from_env())
