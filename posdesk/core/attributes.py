"""Values built from objects that name the same fields, and rows written from values: a cache row read
into a core value, another value, or a value's columns."""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")


@functools.cache
def _field_names(kind: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind) if f.init)


def from_attributes(kind: type[D], source: object, /, **given: object) -> D:
    """A ``kind`` whose fields are ``source``'s attributes of the same names, except those ``given``
    (a field renamed or converted on the way). A field ``source`` lacks is an AttributeError: a column
    added to one side and forgotten on the other never passes as a default."""
    copied = {name: getattr(source, name) for name in _field_names(kind) if name not in given}
    return kind(**copied, **given)


def field_values(
    value: DataclassInstance, /, *, leaving: tuple[str, ...] = (), **given: object
) -> dict[str, object]:
    """``value``'s fields by name, in their order (not copied deeper, unlike :func:`dataclasses.asdict`),
    but those ``leaving``, and those ``given`` as given (converted; a name that is no field comes last):
    a row's columns or a wire form, where a field added to the value is written without being named."""
    names = [name for name in _field_names(type(value)) if name not in leaving]
    return {**{name: given[name] if name in given else getattr(value, name) for name in names}, **given}
