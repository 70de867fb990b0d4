"""Message templates: safe placeholders, the default invoice texts, HTML escaping, SMS size."""

from __future__ import annotations

import html
import re

import pytest

from posdesk.messaging.templates import (
    InvoiceTemplates,
    TemplateError,
    TemplateValues,
    check_template,
    fill,
    render_invoice_email,
    render_invoice_sms,
    sms_size,
    text_to_html,
)

LINK = "https://pay.salon.example/pay/tok_abc?x=1&y=2"


def values(first_name: str = "Ada", business: str = "Salon Nova") -> TemplateValues:
    return TemplateValues(first_name=first_name, business=business, amount="$42.50", link=LINK)


def test_fill_replaces_each_placeholder_once_and_never_reads_values_as_templates() -> None:
    out = fill("{first_name} / {link} / {{literal}} / {business}", {
        "first_name": "{link}",
        "link": "%s {0} {business}",
        "business": "B",
    })  # fmt: skip
    assert out == "{link} / %s {0} {business} / {literal} / B"


def test_lone_braces_are_kept_as_text() -> None:
    assert fill("smile :} or :{ ", {}) == "smile :} or :{ "


@pytest.mark.parametrize(
    "bad", ["{frist_name}", "{first name}", "{First_Name}", "{0}", "{}", "{link.__class__}"]
)
def test_unknown_placeholder_is_refused_naming_it_and_the_allowed_ones(bad: str) -> None:
    with pytest.raises(TemplateError) as caught:
        fill(f"Hi {bad}", {"first_name": "Ada"})
    message = str(caught.value)
    assert bad in message
    assert "{first_name}, {business}, {amount} or {link}" in message


def test_invoice_template_without_link_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"must include \{link\}"):
        check_template("Hi {first_name}, pay soon", require=("link",))
    with pytest.raises(TemplateError, match="link"):
        InvoiceTemplates(sms="Hi {first_name}").check()
    InvoiceTemplates().check()


def test_link_must_be_http() -> None:
    with pytest.raises(TemplateError):
        TemplateValues(first_name="A", business="B", amount="$1", link="javascript:alert(1)")


def test_default_sms_mentions_name_business_amount_and_link() -> None:
    text = render_invoice_sms(values())
    assert text == f"Hi Ada, your invoice from Salon Nova for $42.50 is ready. Pay securely here: {LINK}"
    assert sms_size(text).segments == 1


def test_hostile_name_in_sms_is_one_line_without_bidi_overrides_and_short() -> None:
    hostile = "Eve\r\nBcc: x@evil.example\u202e" + "A" * 10_000
    text = render_invoice_sms(values(first_name=hostile))
    assert "\r" not in text and "\n" not in text and "\u202e" not in text
    assert LINK in text
    assert len(text) < 250
    assert sms_size(text).segments <= 2


def test_invoice_email_has_link_in_text_and_html_with_a_button() -> None:
    rendered = render_invoice_email(values())
    assert rendered.subject == "Your invoice from Salon Nova: $42.50"
    assert LINK in rendered.text
    escaped_link = html.escape(LINK, quote=True)
    anchors = re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', rendered.html)
    assert (escaped_link, "Pay $42.50") in anchors  # the button
    assert (escaped_link, escaped_link) in anchors  # the visible link in the paragraph
    # The button sits right after the paragraph that shows the link, before the sign-off.
    assert rendered.html.index("Pay $42.50") < rendered.html.index("Thank you")


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "O'Brien & <b>Sons</b>",
        "\u202egnp.exe",
    ],
)
def test_hostile_names_are_escaped_in_html(hostile: str) -> None:
    rendered = render_invoice_email(values(first_name=hostile, business=hostile))
    assert "<script" not in rendered.html
    assert "<img" not in rendered.html
    assert "<b>" not in rendered.html
    assert "\u202e" not in rendered.html
    assert "onerror=alert(1)>" not in rendered.html  # no attribute break-out
    assert html.escape(hostile.replace("\u202e", " ").strip(), quote=True) in rendered.html


def test_template_text_itself_is_escaped_when_turned_into_html() -> None:
    rendered = render_invoice_email(values(), InvoiceTemplates(email_text="I <3 you {first_name}\n{link}"))
    assert "I &lt;3 you Ada" in rendered.html


def test_cashier_text_becomes_escaped_html_with_clickable_link_and_button() -> None:
    page = text_to_html(f'Hi <Ada>,\n\n"{LINK}"', link=LINK, business="Salon & Spa")
    assert "Hi &lt;Ada&gt;," in page
    assert "Salon &amp; Spa" in page
    # The quote after the URL is not swallowed into the link.
    assert f'<a href="{html.escape(LINK)}"' in page
    assert page.count(f'href="{html.escape(LINK)}"') == 2


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2),
        # 306 septets fit two parts of 153, but an escape pair is never split across parts: three.
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM alphabet
        ("ê" * 70, "UCS-2", 1),  # ê is not
        ("ê" * 71, "UCS-2", 2),
        ("a" * 159 + "😀", "UCS-2", 3),  # an emoji turns 160 characters into 3 segments
    ],
)
def test_sms_size(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)


def test_sms_size_counts_emoji_as_two_units() -> None:
    assert sms_size("😀").units == 2
    assert sms_size("😀").remaining_in_segment == 68
