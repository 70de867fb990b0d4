"""The store's catalog in the local cache."""

from __future__ import annotations

import builtins
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert

from posdesk.core.catalog import CatalogItem, ItemKind
from posdesk.core.money import Money
from posdesk.store.codecs import details_from_json, details_to_json
from posdesk.store.models import CatalogItemRow
from posdesk.store.repository import Repository


class CatalogRepository(Repository):
    """Catalog items."""

    def list(
        self, kind: ItemKind | None = None, *, include_inactive: bool = False
    ) -> builtins.list[CatalogItem]:
        """Items of one kind (or all), by kind then name."""
        query = select(CatalogItemRow).execution_options(populate_existing=True)
        if kind is not None:
            query = query.where(CatalogItemRow.kind == kind.value)
        if not include_inactive:
            query = query.where(CatalogItemRow.active.is_(True))
        query = query.order_by(CatalogItemRow.kind, CatalogItemRow.name, CatalogItemRow.id)
        return [item_of(row) for row in self.session.scalars(query)]

    def get(self, item_id: str) -> CatalogItem | None:
        return self._get(CatalogItemRow, item_id, item_of)

    def upsert(self, item: CatalogItem) -> None:
        values = {
            "kind": item.kind.value,
            "name": item.name,
            "price_minor": item.price.minor,
            "currency": item.price.currency,
            "tax_rate": str(item.tax_rate),
            "details": details_to_json(item.details),
            "active": item.active,
        }
        self.session.execute(
            insert(CatalogItemRow)
            .values(id=item.id, **values)
            .on_conflict_do_update(index_elements=[CatalogItemRow.id], set_=values)
        )


def item_of(row: CatalogItemRow) -> CatalogItem:
    kind = ItemKind(row.kind)
    return CatalogItem(
        id=row.id,
        kind=kind,
        name=row.name,
        price=Money(row.price_minor, row.currency),
        details=details_from_json(kind, row.details),
        tax_rate=Decimal(row.tax_rate),
        active=row.active,
    )
