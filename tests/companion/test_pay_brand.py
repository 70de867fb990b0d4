"""The store's brand on the payment page: colours kept readable, logos that are images and nothing else."""

from __future__ import annotations

import pytest

from posdesk.companion.pay.brand import contrast, readable_on_white
from posdesk.companion.stores import SettingsError, StoreSettings

BASE = {"business_name": "Test Salon", "currency": "USD"}


@pytest.mark.parametrize("color", ["#2bb673", "#ffd400", "#ffffff", "#635bff", "#000000", "#e0e0e0"])
def test_any_brand_colour_becomes_one_white_text_reads_on(color: str) -> None:
    shade = readable_on_white(color)
    assert contrast(shade, "#ffffff") >= 4.5


def test_a_dark_enough_colour_is_kept_as_it_is() -> None:
    assert readable_on_white("#1a7f5a") == "#1a7f5a"


def test_brand_settings_round_trip_and_refuse_what_is_not_an_image_or_a_colour() -> None:
    good = {**BASE, "brand_color": "#1A7F5A", "logo": "data:image/png;base64,iVBORw0KGgo=", "phone": "555", "email": "a@b.c"}
    settings = StoreSettings.from_wire(good)
    assert settings.brand_color == "#1a7f5a" and settings.to_wire()["logo"] == good["logo"]
    for bad in (
        {"brand_color": "green"},
        {"brand_color": "#12345"},
        {"logo": "data:image/svg+xml;base64,PHN2Zz4="},  # SVG can carry script
        {"logo": "https://example.com/logo.png"},
        {"logo": "data:image/png;base64,@@@"},
    ):
        with pytest.raises(SettingsError):
            StoreSettings.from_wire({**BASE, **bad})
