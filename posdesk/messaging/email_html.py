"""The HTML part of every email the Communicator sends: the cashier's plain text, escaped, in a card
with the business name, http(s) addresses made links, and the payment link also shown as a button.

Everything that comes from a person (the text, the business name, the button label) is escaped here;
names are cleaned for display (:func:`posdesk.core.text.single_line`), so a 10 kB or right-to-left
business name cannot break the layout.
"""

from __future__ import annotations

import html
import re

from posdesk.core.text import MAX_NAME_IN_MESSAGE, single_line

# Stops before an escaped quote or angle bracket: ``"https://x"`` is escaped to ``&quot;https://x&quot;``.
_URL = re.compile(r"https?://(?:(?!&quot;|&#x27;|&lt;|&gt;)[^\s<>\"'])+")


def _linkify_escaped(escaped: str) -> str:
    """Turn http(s) addresses in already-escaped text into links. ``&amp;`` inside a URL stays encoded in
    the href, which is exactly what HTML wants."""

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        return f'<a href="{url}" style="color:#1a56db;word-break:break-all">{url}</a>'

    return _URL.sub(link, escaped)


def _escape(value: str) -> str:
    return html.escape(value, quote=True)


def _paragraphs(escaped: str) -> list[str]:
    """Escaped plain text as HTML paragraphs: blank lines separate them, line breaks become ``<br>``,
    http(s) addresses become links."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    return [
        f'<p style="margin:0 0 16px">{_linkify_escaped(p).replace(chr(10), "<br>")}</p>' for p in paragraphs
    ]


def text_to_html(text: str, *, link: str | None, business: str, button_label: str = "Pay now") -> str:
    """An HTML part for a message the cashier wrote as plain text (everything escaped; the link, when
    there is one, also shown as a button)."""
    return email_html(
        paragraphs=_paragraphs(_escape(text)), link=link, button_label=button_label, business=business
    )


def email_html(*, paragraphs: list[str], link: str | None, button_label: str, business: str) -> str:
    """The HTML of every email: a centred card with the business name, the paragraphs, and a button for
    the link right after the paragraph that shows the link (at the end when none does).

    ``paragraphs`` are trusted (already escaped HTML); ``link``, ``button_label`` and ``business`` are
    escaped here. The button is a table cell with inline styles: mail clients ignore style sheets and
    ``<button>``, and Outlook only paints backgrounds on table cells.
    """
    safe_business = html.escape(single_line(business, MAX_NAME_IN_MESSAGE), quote=True)
    body = list(paragraphs)
    if link:
        safe_link = html.escape(link, quote=True)
        safe_label = html.escape(single_line(button_label, 80), quote=True)
        button = (
            '<table role="presentation" cellspacing="0" cellpadding="0" border="0" style="margin:0 0 20px">'
            '<tr><td style="border-radius:6px;background:#1a56db">'
            f'<a href="{safe_link}" target="_blank" rel="noopener noreferrer" '
            'style="display:inline-block;padding:14px 28px;font-size:16px;font-weight:bold;'
            f'color:#ffffff;text-decoration:none;border-radius:6px">{safe_label}</a>'
            "</td></tr></table>"
        )
        after = next((i + 1 for i, p in enumerate(body) if f'href="{safe_link}"' in p), len(body))
        body.insert(after, button)
    body_html = "\n".join(body)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{safe_business}</title></head>\n"
        '<body style="margin:0;padding:0;background:#f4f5f7">'
        '<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0">'
        '<tr><td align="center" style="padding:24px 12px">'
        '<table role="presentation" width="100%" cellspacing="0" cellpadding="0" border="0" '
        'style="max-width:560px;background:#ffffff;border-radius:8px">'
        '<tr><td style="padding:28px 28px 12px;font-family:Arial,Helvetica,sans-serif;font-size:15px;'
        'line-height:1.5;color:#1f2933">'
        f'<h1 style="margin:0 0 20px;font-size:20px">{safe_business}</h1>\n'
        f"{body_html}\n"
        "</td></tr></table></td></tr></table></body></html>\n"
    )
