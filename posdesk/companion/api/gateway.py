"""The store's payment gateway: kind and credentials, write-only (secrets are never returned)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from posdesk.companion.api.common import terminal_store
from posdesk.companion.deps import ConfigDep, DbDep, TerminalDep
from posdesk.companion.models import Store
from posdesk.companion.secrets_box import SecretsBox, SecretsUnreadable
from posdesk.core.currencies import UnchargeableAmount, check_gateway_currency
from posdesk.gateways import COMPANION_SECRET, check_public_settings
from posdesk.gateways.base import Misconfigured

router = APIRouter(tags=["gateway"])

GatewayKind = Literal["simulator", "stripe", "cloud9"]
Values = dict[str, Any]


class GatewayUpdate(BaseModel):
    kind: GatewayKind
    public: dict[str, str] = Field(
        default_factory=dict, max_length=20, description="Publishable ids (Stripe pk_..., Cloud9 merchant id)"
    )
    secrets: dict[str, str] | None = Field(
        default=None,
        max_length=20,
        description="Secret keys; write-only. Leave out (null) to keep the stored ones for the same kind.",
    )


def mask(value: str) -> str:
    """``pk_test_abcdefgh1234`` -> ``pk_t…1234``: enough to recognise, not enough to use."""
    if len(value) <= 8:
        return "…" if value else ""
    return f"{value[:4]}…{value[-4:]}"


def gateway_view(store: Store, box: SecretsBox) -> Values:
    try:
        names = sorted(box.open(store.gateway_secrets))
        readable = True
    except SecretsUnreadable:
        names, readable = [], False
    return {
        "kind": store.gateway_kind,
        "public": {name: mask(value) for name, value in sorted((store.gateway_public or {}).items())},
        "secrets_set": names,
        "secrets_readable": readable,
    }


def _check_values(values: dict[str, str], where: str) -> None:
    for name, value in values.items():
        if not 1 <= len(name) <= 60 or len(value) > 2000:
            raise HTTPException(status_code=422, detail=f"{where}.{name[:60]}: too long")


@router.get("/gateway")
def get_gateway(terminal: TerminalDep, db: DbDep, config: ConfigDep) -> Values:
    """Kind, masked public ids, and the names of the secrets that are set (never their values)."""
    with db.read() as session:
        return gateway_view(terminal_store(session, terminal), SecretsBox(config.secret_key))


@router.put("/gateway")
def put_gateway(update: GatewayUpdate, terminal: TerminalDep, db: DbDep, config: ConfigDep) -> Values:
    """Choose the gateway and set its credentials; secrets are encrypted at rest."""
    _check_values(update.public, "public")
    _check_values(update.secrets or {}, "secrets")
    box = SecretsBox(config.secret_key)
    with db.write() as session:
        store = terminal_store(session, terminal, for_update=True)
        try:
            check_gateway_currency(update.kind, store.currency)
        except UnchargeableAmount as exc:
            raise HTTPException(status_code=422, detail=f"kind: {exc}") from None
        try:
            check_public_settings(update.kind, update.public)
        except Misconfigured as exc:
            raise HTTPException(status_code=422, detail=f"public: {exc.message}") from None
        if update.secrets is not None:
            store.gateway_secrets = box.seal(update.secrets)
        elif update.kind != store.gateway_kind:
            store.gateway_secrets = None  # another gateway's secrets mean nothing to this one
        store.gateway_kind = update.kind
        store.gateway_public = dict(update.public)
        return gateway_view(store, box)


def gateway_secrets_for(store: Store, config: Any) -> dict[str, str]:
    """The store's decrypted secrets, with the Simulator's webhook secret from the configuration."""
    secrets = SecretsBox(config.secret_key).open(store.gateway_secrets)
    if store.gateway_kind in COMPANION_SECRET:
        secrets.setdefault("webhook_secret", config.simulator_webhook_secret)
    return secrets


@router.post("/gateway/test")
async def test_gateway(terminal: TerminalDep, db: DbDep, config: ConfigDep) -> Values:
    """Ask the configured gateway whether the credentials work: ``{"ok": bool, "message": str}``."""

    def load() -> tuple[str, dict[str, Any], dict[str, str]]:
        with db.read() as session:
            store = terminal_store(session, terminal)
            return store.gateway_kind, dict(store.gateway_public or {}), gateway_secrets_for(store, config)

    try:
        kind, public, secrets = await run_in_threadpool(load)
    except SecretsUnreadable as exc:
        return {"ok": False, "kind": None, "message": str(exc)}
    try:
        from posdesk.gateways import build_gateway
    except ImportError:
        return {"ok": False, "kind": kind, "message": "This companion has no gateway drivers installed"}

    def check() -> Values:
        try:
            gateway = build_gateway(
                kind,
                public,
                secrets,
                stripe_api_base=config.stripe_api_base,
                cloud9_api_url=config.cloud9_api_url,
            )
            result = gateway.test_connection()
        except Exception as exc:  # typed gateway errors carry a message fit for a manager
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return {"ok": False, "kind": kind, "message": message}
        return {"ok": bool(result.ok), "kind": kind, "message": result.message}

    return await run_in_threadpool(check)
