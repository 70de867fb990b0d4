"""Reading a value from a row and writing its columns back: a field forgotten on one side is an error,
never a silent default."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from posdesk.core.attributes import field_values, from_attributes
from posdesk.core.client import Client


def test_a_value_is_read_from_the_attributes_of_the_same_names_with_the_given_ones_instead() -> None:
    row = SimpleNamespace(
        id="c1", first_name="ada", last_name="Lovelace", phone="", email="a@x.org", sms_consent=False,
        email_consent=True, name_key="ADA LOVELACE",  # a column the value does not have is not read
    )

    assert from_attributes(Client, row, first_name="Ada") == Client(
        id="c1", first_name="Ada", last_name="Lovelace", email="a@x.org", email_consent=True
    )


def test_a_field_the_row_lacks_is_an_error_not_its_default() -> None:
    row = SimpleNamespace(id="c1", first_name="Ada", last_name="", phone="", email="", sms_consent=False)

    with pytest.raises(AttributeError, match="email_consent"):
        from_attributes(Client, row)


def test_a_values_columns_are_its_fields_but_those_left_to_other_tables_and_those_converted() -> None:
    client = Client(id="c1", first_name="Ada", phone="+15550100")

    assert field_values(client, leaving=("id",), phone="15550100", phone_key="0010555") == {
        "first_name": "Ada",
        "last_name": "",
        "phone": "15550100",
        "email": "",
        "sms_consent": False,
        "email_consent": False,
        "phone_key": "0010555",
    }
