"""The store's settings on the companion: pushed from the terminal where the manager saved them, adopted
by the others.

The payment page and the companion's re-pricing use the store settings the companion holds (business
name and address, currency, languages, tips, surcharge, link expiry) and its promotions; the manager sets
them in this terminal's Settings dialog. They travel like every other change, through the outbox, so a
save made offline reaches the companion on reconnect, and before any invoice queued after it (an invoice
priced with a 3% surcharge must not arrive before the 3% does).

Which side wins, per terminal:

- **A save pushes.** Saving the Settings dialog queues ``store.settings`` (``PUT /settings`` then
  ``PUT /promotions``) in the same transaction as the save. The last save in the store wins.
- **On every connect** (start-up, reconnect, right after pairing), and whenever the event stream says
  ``store.settings_changed`` (a save on another terminal), :func:`reconcile_store_settings`:
  a push still queued wins (nothing else happens); settings changed here since they last agreed with the
  companion are pushed; otherwise, when a terminal has set the store's settings before, this terminal
  **adopts** them, so all terminals price alike; a store no terminal has set yet (just created, or the
  demo companion) is **seeded** with this terminal's settings.

A push the companion refuses (a tip preset above its limit, say) is final: the manager is told, and
those same settings are not seeded again on the next connect; a new save is pushed as usual.

"Agreed" is remembered as a hash of the store documents under :data:`SYNC_KEY` in the settings table.
Companion fields the POS has no control for (e.g. ``card_on_file_for_memberships``) are kept: the push
reads the companion's settings and replaces only the fields the POS owns.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from posdesk.core.languages import PAGE_LANGUAGES as PAGE_LANGUAGES  # the settings dialog offers these
from posdesk.core.money import Money
from posdesk.core.pricing import Promotion
from posdesk.core.tips import TipPolicy, TipPreset
from posdesk.store.database import Database
from posdesk.store.models import OutboxRow
from posdesk.store.outbox import Outbox, OutboxEntry
from posdesk.store.terminal_settings import SettingsRepository, TerminalSettings

if TYPE_CHECKING:  # httpx comes with the client, loaded once the POS connects
    from posdesk.sync.client import CompanionClient

log = logging.getLogger(__name__)

OUTBOX_KIND = "store.settings"
SYNC_KEY = "store_settings_sync"  # settings row: {"hash": <last agreed>, "sequence": n, "refused": <hash>}
MARKER = "pos_managed"  # kept by the companion as an extra key: a terminal has set these settings


# -- the companion's wire shapes -------------------------------------------------------------------
def settings_document(settings: TerminalSettings) -> dict[str, Any]:
    """The fields of ``PUT /api/v1/settings`` the POS owns, from the terminal's settings.

    An empty business name is left out (the companion requires one): the store keeps the name it has.
    """
    languages = list(settings.languages) or ["en"]
    locale = settings.locale if settings.locale.split("_")[0] in languages else languages[0]
    policy = settings.tip_policy
    document: dict[str, Any] = {
        MARKER: True,
        "address": settings.business_address,
        "phone": settings.business_phone,
        "email": settings.business_email,
        "brand_color": settings.brand_color,
        "logo": settings.logo,
        "currency": settings.currency,
        "default_locale": locale,
        "languages": languages,
        "tips_allowed": policy.allowed,
        "tip_presets": [
            {"percent": str(p.percent)} if p.percent is not None else {"amount": p.amount.minor}  # type: ignore[union-attr]
            for p in policy.presets
        ],
        "tip_max_rate": str(policy.max_rate),
        "surcharge_rate": str(settings.surcharge_rate),
        "link_expiry_hours": settings.link_expiry_hours,
    }
    if settings.business_name.strip():
        document["business_name"] = settings.business_name.strip()
    return document


def promotions_document(settings: TerminalSettings) -> list[dict[str, Any]]:
    """The body's list of ``PUT /api/v1/promotions``."""
    return [promo.to_wire() for promo in settings.promotions]


def documents_hash(settings: TerminalSettings) -> str:
    """A fingerprint of what the companion would hold after a push of ``settings``."""
    canonical = json.dumps(
        {"settings": settings_document(settings), "promotions": promotions_document(settings)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def adopted(settings: TerminalSettings, store: dict[str, Any], promotions: list[Any]) -> TerminalSettings:
    """``settings`` with the store's fields taken from the companion's documents (GET forms).

    The terminal's own fields (the feature switch, companion, PIN) are kept, and so is its locale when it
    speaks the store's default language (the companion's "en" and the terminal's "en_US" agree).
    Raises ValueError (or KeyError, TypeError) for a document this version cannot read.
    """
    currency = str(store["currency"])
    presets = tuple(
        TipPreset(percent=Decimal(str(p["percent"])))
        if p.get("percent") is not None
        else TipPreset(amount=Money(int(p["amount"]), currency))
        for p in store.get("tip_presets", ())
    )
    default_locale = str(store.get("default_locale") or "en")
    same_language = settings.locale.split("_")[0] == default_locale.split("_")[0]
    return replace(
        settings,
        business_name=str(store.get("business_name", settings.business_name)),
        business_address=str(store.get("address", "")),
        business_phone=str(store.get("phone", "")),
        business_email=str(store.get("email", "")),
        brand_color=str(store.get("brand_color", "")),
        logo=str(store.get("logo", "")),
        currency=currency,
        locale=settings.locale if same_language else default_locale,
        languages=tuple(str(x) for x in store.get("languages", ("en",))) or ("en",),
        tip_policy=TipPolicy(
            allowed=bool(store.get("tips_allowed", True)),
            presets=presets,
            max_rate=Decimal(str(store.get("tip_max_rate", "1"))),
        ),
        surcharge_rate=Decimal(str(store.get("surcharge_rate", "0"))),
        link_expiry_hours=int(store.get("link_expiry_hours", settings.link_expiry_hours)),
        promotions=tuple(Promotion.from_wire(p, currency) for p in promotions),
    )


# -- queueing the push -----------------------------------------------------------------------------
def _sync_record(session: Session) -> dict[str, Any]:
    value = SettingsRepository(session).get(SYNC_KEY, {})
    return value if isinstance(value, dict) else {}


def _remember(session: Session, digest: str, sequence: int | None = None) -> None:
    record = _sync_record(session)  # its other keys ("refused") are kept
    SettingsRepository(session).set(
        SYNC_KEY,
        {**record, "hash": digest, "sequence": record.get("sequence", 0) if sequence is None else sequence},
    )


def remember_refusal(session: Session, entry: OutboxEntry) -> None:
    """The companion refused this push: these settings are not sent again unless the manager saves them
    again (a refusal is final; the manager was told and corrects them in Settings)."""
    digest = entry.payload.get("hash")
    if isinstance(digest, str):
        SettingsRepository(session).set(SYNC_KEY, {**_sync_record(session), "refused": digest})


def queue_store_settings(
    session: Session, settings: TerminalSettings, *, force: bool = False, now: datetime | None = None
) -> int | None:
    """Queue the push of the store's settings and promotions; the outbox entry's id, or None when the
    companion already has (or is about to get) exactly these (unless ``force``).

    Call in the transaction that saves ``settings``. The outbox key is made of the content's hash and a
    sequence number, so the same content queued twice is sent once, yet going back to an earlier
    content (3% -> 4% -> 3%) is sent again.
    """
    digest = documents_hash(settings)
    record = _sync_record(session)
    if not force and record.get("hash") == digest:
        return None
    sequence = int(record.get("sequence", 0)) + 1
    entry_id = Outbox(session).enqueue(
        OUTBOX_KIND,
        f"{OUTBOX_KIND}:{sequence}:{digest[:16]}",
        {
            "settings": settings_document(settings),
            "promotions": promotions_document(settings),
            "hash": digest,
        },
        now=now,
    )
    _remember(session, digest, sequence)
    return entry_id


def save_and_queue(db: Database, settings: TerminalSettings) -> TerminalSettings:
    """The manager saved the settings: keep them and queue their push, in one transaction."""
    with db.session() as session:
        SettingsRepository(session).save_terminal(settings)
        queue_store_settings(session, settings)
    return settings


def _pushes_waiting(session: Session) -> int:
    query = select(func.count()).select_from(OutboxRow)
    return session.scalar(query.where(OutboxRow.kind == OUTBOX_KIND, OutboxRow.done_at.is_(None))) or 0


# -- sending (the relay) -----------------------------------------------------------------------------
async def push_store_settings(client: CompanionClient, entry: OutboxEntry) -> dict[str, Any]:
    """The outbox handler: ``PUT /settings`` (over the fields the POS does not own), ``PUT /promotions``.

    Both replace what the companion holds, so sending again after a lost answer changes nothing.
    """
    current = await client.get("/settings")
    stored = await client.put("/settings", {**current, **entry.payload["settings"]})
    await client.put("/promotions", {"promotions": entry.payload["promotions"]})
    return stored


def refusal_notice(detail: Any) -> str:
    """What the status bar says when the companion refused the store settings."""
    return (
        f"The companion refused the store settings: {detail}. Payment links keep the store's previous "
        "settings; correct them in Settings."
    )


# -- on connect ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconciled:
    """What :func:`reconcile_store_settings` did: "waiting", "pushed", "seeded", "adopted", "in_step",
    or "refused" (the store has no settings yet and the companion refused this terminal's)."""

    outcome: str
    settings: TerminalSettings | None = None  # the adopted settings, when "adopted"


async def reconcile_store_settings(db: Database, client: CompanionClient) -> Reconciled:
    """Bring this terminal and the store's settings in step (see the module docstring). Idempotent.

    Raises :class:`~posdesk.sync.client.CompanionError` when the companion cannot answer.
    """
    with db.reading() as session:
        waiting = _pushes_waiting(session)
        local = SettingsRepository(session).terminal()
        agreed = _sync_record(session).get("hash")
    if waiting:
        return Reconciled("waiting")
    digest = documents_hash(local)
    if agreed is not None and agreed != digest:  # changed here since it last agreed: ours is newer
        with db.session() as session:
            queue_store_settings(session, SettingsRepository(session).terminal())
        return Reconciled("pushed")
    store = await client.get("/settings")
    if not store.get(MARKER):  # no terminal has set this store's settings yet: this one does
        with db.session() as session:
            if _pushes_waiting(session):
                return Reconciled("waiting")  # the manager saved meanwhile: that push sets the store's
            settings_now = SettingsRepository(session).terminal()
            if _sync_record(session).get("refused") == documents_hash(settings_now):
                return Reconciled("refused")  # ... unless the companion refused exactly these: not again
            queue_store_settings(session, settings_now, force=True)
        return Reconciled("seeded")
    promotions = (await client.get("/promotions")).get("promotions", [])
    try:
        theirs = adopted(local, store, promotions)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        log.warning("the store's settings are unreadable here (%s); keeping this terminal's", exc)
        return Reconciled("in_step")
    with db.session() as session:
        settings_now = SettingsRepository(session).terminal()
        if _pushes_waiting(session) or documents_hash(settings_now) != digest:
            return Reconciled("waiting")  # the manager saved meanwhile: that save wins
        _remember(session, documents_hash(theirs))
        if theirs == settings_now:
            return Reconciled("in_step")
        SettingsRepository(session).save_terminal(theirs)
    log.info("adopted the store's settings from the companion")
    return Reconciled("adopted", theirs)
