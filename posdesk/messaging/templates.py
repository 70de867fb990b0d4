"""Message templates with placeholders, the default invoice messages, and SMS sizing.

Placeholders are ``{first_name}``, ``{business}``, ``{amount}`` and ``{link}``. Substitution is a
single pass over the *template*: a value is inserted as it is and never read again, so a client named
``{link}`` or ``%s`` stays exactly that. Rules for template authors (the manager, in settings):

* ``{name}`` is a placeholder and must be one of the four above; anything else is refused with a
  message naming the unknown placeholder and the allowed ones (``{first name}`` and ``{First_Name}``
  included: a typo must not reach a client as text).
* ``{{`` and ``}}`` write a literal brace; a lone ``{`` or ``}`` that does not make a placeholder is
  kept as it is.

For HTML, values are escaped before they are inserted (the template itself is trusted HTML).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from posdesk.messaging.base import single_line

PLACEHOLDERS = ("first_name", "business", "amount", "link")
MAX_NAME_IN_MESSAGE = 60  # a 10 kB client name must not turn an SMS into eight segments

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class TemplateError(ValueError):
    """A template cannot be used; the message says why, in words fit for the settings dialog."""


def _allowed_list() -> str:
    names = [f"{{{name}}}" for name in PLACEHOLDERS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _tokens(template: str) -> Iterator[tuple[int, int, str | None, str]]:
    """(start, end, placeholder name or None, literal replacement) for each brace token."""
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token == "{{":
            yield match.start(), match.end(), None, "{"
        elif token == "}}":
            yield match.start(), match.end(), None, "}"
        else:
            yield match.start(), match.end(), match.group(1), ""


def placeholders_in(template: str) -> set[str]:
    """The placeholder names a template uses; raise :class:`TemplateError` for an unknown one."""
    used: set[str] = set()
    unknown: list[str] = []
    for _, _, name, _ in _tokens(template):
        if name is None:
            continue
        if name in PLACEHOLDERS:
            used.add(name)
        elif name not in unknown:
            unknown.append(name)
    if unknown:
        shown = ", ".join(f"{{{name}}}" for name in unknown)
        noun = "placeholder" if len(unknown) == 1 else "placeholders"
        raise TemplateError(f"Unknown {noun} {shown}. Use {_allowed_list()}.")
    return used


def check_template(template: str, *, require: tuple[str, ...] = ()) -> None:
    """Raise :class:`TemplateError` when the template has an unknown placeholder or lacks a required one
    (an invoice template without ``{link}`` would send an invoice nobody can pay)."""
    used = placeholders_in(template)
    missing = [name for name in require if name not in used]
    if missing:
        raise TemplateError("The template must include " + " and ".join(f"{{{m}}}" for m in missing) + ".")


def fill(
    template: str,
    values: Mapping[str, str],
    *,
    escape: Callable[[str], str] | None = None,
    escape_literals: bool = False,
) -> str:
    """``template`` with each placeholder replaced by its value, escaped with ``escape`` if given (and
    the template's own text too with ``escape_literals``, for a plain-text template turned into HTML).

    Raises :class:`TemplateError` for an unknown placeholder, or a known one with no value.
    """
    placeholders_in(template)
    out: list[str] = []
    position = 0

    def literal_text(text: str) -> str:
        return escape(text) if escape and escape_literals else text

    for start, end, name, literal in _tokens(template):
        out.append(literal_text(template[position:start]))
        if name is None:
            out.append(literal_text(literal))
        else:
            if name not in values:
                raise TemplateError(f"No value for {{{name}}}.")
            value = values[name]
            out.append(escape(value) if escape else value)
        position = end
    out.append(literal_text(template[position:]))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class TemplateValues:
    """What a template may mention. ``amount`` is already formatted for the store's locale ("$42.50").

    Names are cleaned for display (:func:`posdesk.messaging.base.single_line`): no line breaks, no bidi
    overrides, at most :data:`MAX_NAME_IN_MESSAGE` characters. The link must be http(s).
    """

    first_name: str
    business: str
    amount: str
    link: str

    def __post_init__(self) -> None:
        if not self.link.startswith(("https://", "http://")):
            raise TemplateError("The invoice link must be an http(s) address.")

    def as_mapping(self) -> dict[str, str]:
        return {
            "first_name": single_line(self.first_name, MAX_NAME_IN_MESSAGE),
            "business": single_line(self.business, MAX_NAME_IN_MESSAGE),
            "amount": single_line(self.amount, 40),
            "link": self.link.strip(),
        }


@dataclass(frozen=True, slots=True)
class InvoiceTemplates:
    """The texts used for an invoice message. The manager may replace the SMS and the email's subject and
    text; the HTML is ours (values escaped), with the email text's own paragraphs."""

    sms: str = (
        "Hi {first_name}, your invoice from {business} for {amount} is ready. Pay securely here: {link}"
    )
    email_subject: str = "Your invoice from {business}: {amount}"
    email_text: str = (
        "Hi {first_name},\n\n"
        "Your invoice from {business} for {amount} is ready.\n\n"
        "Pay securely online:\n{link}\n\n"
        "Thank you,\n{business}\n"
    )
    button_label: str = "Pay {amount}"

    def check(self) -> None:
        """Raise :class:`TemplateError` for the first unusable template."""
        check_template(self.sms, require=("link",))
        check_template(self.email_subject)
        check_template(self.email_text, require=("link",))
        check_template(self.button_label)


DEFAULT_INVOICE_TEMPLATES = InvoiceTemplates()


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_invoice_sms(
    values: TemplateValues, templates: InvoiceTemplates = DEFAULT_INVOICE_TEMPLATES
) -> str:
    """The invoice SMS text."""
    return fill(templates.sms, values.as_mapping()).strip()


def render_invoice_email(
    values: TemplateValues, templates: InvoiceTemplates = DEFAULT_INVOICE_TEMPLATES
) -> RenderedEmail:
    """The invoice email: subject, plain text and HTML, the link in both parts (a button in HTML)."""
    mapping = values.as_mapping()
    subject = single_line(fill(templates.email_subject, mapping), 200)
    text = fill(templates.email_text, mapping)
    paragraphs = _paragraphs(fill(templates.email_text, mapping, escape=_escape, escape_literals=True))
    return RenderedEmail(
        subject=subject,
        text=text,
        html=email_html(
            paragraphs=paragraphs,
            link=mapping["link"],
            button_label=fill(templates.button_label, mapping),
            business=mapping["business"],
        ),
    )


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


# --- SMS size -------------------------------------------------------------------------------------

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + char: two septets).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # a concatenated part loses 7 septets to its header
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SmsSize:
    """How an SMS body travels: ``encoding`` ("GSM-7" or "UCS-2"), ``units`` (septets or UTF-16 code
    units), ``segments`` billed, and how many units the last segment still has room for."""

    encoding: str
    units: int
    segments: int
    remaining_in_segment: int


def _pack(unit_sizes: list[int], single: int, part: int) -> tuple[int, int]:
    """(segments, room left in the last) for characters of the given sizes, never splitting one."""
    total = sum(unit_sizes)
    if total == 0:
        return 0, single
    if total <= single:
        return 1, single - total
    segments, used = 1, 0
    for size in unit_sizes:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return segments, part - used


def sms_size(text: str) -> SmsSize:
    """Segments and encoding of ``text`` as an SMS.

    Any character outside the GSM-7 alphabet (an emoji, a curly quote, most accented letters, any
    bidi or zero-width character) switches the whole message to UCS-2, which more than halves what a
    segment holds; the Communicator shows this count so the cashier sees the cost.
    """
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        sizes = [2 if ch in _GSM7_EXTENDED else 1 for ch in text]
        segments, remaining = _pack(sizes, GSM7_SINGLE, GSM7_PART)
        return SmsSize("GSM-7", sum(sizes), segments, remaining)
    sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # astral characters are surrogate pairs
    segments, remaining = _pack(sizes, UCS2_SINGLE, UCS2_PART)
    return SmsSize("UCS-2", sum(sizes), segments, remaining)
