"""Each store's gateway driver, built on demand from its settings (``app.state.gateways``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from posdesk.companion.config import CompanionConfig
from posdesk.companion.models import Store
from posdesk.companion.secrets_box import SecretsBox, SecretsUnreadable
from posdesk.gateways import COMPANION_SECRET, build_gateway
from posdesk.gateways.base import Gateway, Misconfigured
from posdesk.gateways.simulator import SimulatorLedger

WebhookSink = Callable[[bytes, Mapping[str, str]], None]
SinkFactory = Callable[["GatewayDirectory"], WebhookSink]


class GatewayDirectory:
    """Builds each store's gateway driver, lending the Simulator its ledger and webhook sink.

    One per app (``app.state.gateways``). ``webhook_sink`` receives the Simulator's signed events; the
    app factory wires it to the same pipeline ``POST /webhooks/simulator`` runs.
    """

    def __init__(self, config: CompanionConfig, webhook_sink: WebhookSink | None = None) -> None:
        self.config = config
        self.ledger = SimulatorLedger()
        self.webhook_sink = webhook_sink
        self.lent: dict[str, Any] = {}  # more a driver may borrow (Cloud9's card-token callback hints)

    def for_store(self, store: Store) -> Gateway:
        return self.build(store.gateway_kind, store.gateway_public or {}, self._secrets(store), store_id=store.id)

    def build(self, kind: str, public: Mapping[str, Any], secrets: Mapping[str, Any], store_id: str = "") -> Gateway:
        if kind in COMPANION_SECRET:
            secrets = {"webhook_secret": self.config.simulator_webhook_secret}
        # store_id and public_url let a driver address its own server callbacks (Cloud9's card form).
        return build_gateway(
            kind,
            public,
            secrets,
            ledger=self.ledger,
            webhook_sink=self.webhook_sink,
            store_id=store_id,
            public_url=self.config.public_url,
            stripe_api_base=self.config.stripe_api_base,
            cloud9_api_url=self.config.cloud9_api_url,
            **self.lent,
        )

    def _secrets(self, store: Store) -> dict[str, str]:
        if store.gateway_kind in COMPANION_SECRET or not store.gateway_secrets:
            return {}
        try:
            return SecretsBox(self.config.secret_key).open(store.gateway_secrets)
        except SecretsUnreadable as exc:
            raise Misconfigured(str(exc)) from None


_directory_lock = threading.Lock()


def gateway_directory(state: Any) -> GatewayDirectory:
    """The app's :class:`GatewayDirectory` (``app.state.gateways``), made on first use.

    The Simulator's webhook sink comes from ``state.webhook_sink_factory``, which the app factory sets
    (the webhook pipeline depends on the payments package, never the other way round).
    """
    directory: GatewayDirectory | None = getattr(state, "gateways", None)
    if directory is None:
        with _directory_lock:
            directory = getattr(state, "gateways", None)
            if directory is None:
                directory = GatewayDirectory(state.config)
                factory: SinkFactory | None = getattr(state, "webhook_sink_factory", None)
                if factory is not None:
                    directory.webhook_sink = factory(directory)
                state.gateways = directory
    return directory
