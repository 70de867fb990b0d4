"""Phone numbers as people in the store's country write them ("(555) 010-0001" in the US), other
countries' numbers in international form; anything that is not a phone number is shown as typed."""

from __future__ import annotations

import functools


def store_region(locale: str) -> str:
    """The store's country from its locale ("en_US" -> "US"); the US when the locale names none."""
    _, _, region = locale.replace("-", "_").partition("_")
    return region.upper() if len(region) == 2 and region.isalpha() else "US"


@functools.lru_cache(maxsize=1024)
def format_phone(number: str, region: str = "US") -> str:
    text = number.strip()
    if not text:
        return ""
    # Loaded on the first number shown, not with the ticket view: its metadata costs the first frame
    # 16-35 ms with the file cache warm and about 200 ms cold, and a new ticket shows no phone.
    import phonenumbers

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    if parsed.country_code == phonenumbers.country_code_for_region(region):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
