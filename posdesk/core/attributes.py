"""A value built from an object that names the same fields: a cache row, or another value."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")


def from_attributes(kind: type[D], source: object, **given: object) -> D:
    """A ``kind`` whose fields are ``source``'s attributes of the same names, except those ``given``
    (a field renamed or converted on the way). A field ``source`` lacks is an AttributeError: a column
    added to one side and forgotten on the other never passes as a default."""
    copied = {f.name: getattr(source, f.name) for f in fields(kind) if f.init and f.name not in given}
    return kind(**copied, **given)


def field_values(value: DataclassInstance, *, leaving: tuple[str, ...] = (), **given: object) -> dict[str, object]:
    """``value``'s fields by name (not copied deeper, unlike :func:`dataclasses.asdict`), but those
    ``leaving`` and those ``given`` (converted, or another name): a row's columns, where a field added to
    the value and forgotten in the table is an error the database reports."""
    kept = {f.name: getattr(value, f.name) for f in fields(value) if f.name not in leaving and f.name not in given}
    return {**kept, **given}
