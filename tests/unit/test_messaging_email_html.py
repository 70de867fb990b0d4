"""The Communicator's messages as clients get them: the POS fills its templates (names on one line,
cut short, without bidi overrides), the companion's email channel turns the text into escaped HTML with
the link as a button."""

from __future__ import annotations

import html
import re

import pytest

from posdesk.messaging.email_html import text_to_html
from posdesk.pos.message_templates import INVOICE_EMAIL, INVOICE_SMS, INVOICE_SUBJECT, fill_template

LINK = "https://pay.salon.example/pay/tok_abc?x=1&y=2"


def values(first_name: str = "Ada", business: str = "Salon Nova") -> dict[str, str]:
    return {"first_name": first_name, "business": business, "amount": "$42.50", "link": LINK}


def test_the_invoice_texts_mention_name_business_amount_and_link() -> None:
    assert fill_template(INVOICE_SMS, values()) == (
        f"Hi Ada, your invoice from Salon Nova for $42.50 is ready. Pay securely here: {LINK}"
    )
    assert fill_template(INVOICE_SUBJECT, values()) == "Your invoice from Salon Nova: $42.50"


def test_a_hostile_name_in_an_sms_is_one_short_line_without_bidi_overrides() -> None:
    sms = fill_template(INVOICE_SMS, values(first_name="\u202eA\nB" + "x" * 10_000))
    assert "\u202e" not in sms and "\n" not in sms
    assert len(sms) < 200 and sms.endswith(LINK)


def test_the_email_has_the_link_in_text_and_a_button_after_it() -> None:
    page = text_to_html(
        fill_template(INVOICE_EMAIL, values()), link=LINK, business="Salon Nova", button_label="Pay $42.50"
    )
    escaped_link = html.escape(LINK, quote=True)
    anchors = re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', page)
    assert (escaped_link, "Pay $42.50") in anchors  # the button
    assert (escaped_link, escaped_link) in anchors  # the visible link in the paragraph
    assert page.index("Pay $42.50") < page.index("Thank you")  # right after the link, before the sign-off


@pytest.mark.parametrize(
    "hostile",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "O'Brien & <b>Sons</b>", "\u202egnp.exe"],
)
def test_hostile_names_are_escaped_text_in_the_html(hostile: str) -> None:
    page = text_to_html(fill_template(INVOICE_EMAIL, values(hostile, hostile)), link=LINK, business=hostile)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "\u202e" not in page
    assert "onerror=alert(1)>" not in page  # no attribute break-out
    assert html.escape(hostile.replace("\u202e", " ").strip(), quote=True) in page


def test_cashier_text_becomes_escaped_html_with_clickable_link_and_button() -> None:
    page = text_to_html(f'Hi <Ada>,\n\n"{LINK}"', link=LINK, business="Salon & Spa")
    assert "Hi &lt;Ada&gt;," in page
    assert "Salon &amp; Spa" in page
    assert f'<a href="{html.escape(LINK)}"' in page  # the quote after the URL is not swallowed
    assert page.count(f'href="{html.escape(LINK)}"') == 2
