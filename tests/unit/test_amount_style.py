"""An amount written from a kept style reads exactly as Babel writes it, and the second start needs no Babel.

The first frame shows amounts of the store's currency from the style kept in the data folder
(posdesk.core.amount_style, posdesk.pos.amount_styles) instead of importing Babel and loading its data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal, Inexact, localcontext
from pathlib import Path

import pytest
from babel import localedata
from babel.numbers import format_currency

from posdesk.core import amount_style
from posdesk.core.amount_style import AmountStyle, babel_stamp, style_from_babel
from posdesk.core.currencies import selectable_currencies
from posdesk.core.money import Money, currency_exponent, money_context, validate_currency
from posdesk.pos import amount_styles

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"
AMOUNTS = (0, 1, -1, 5, 99, 100, -100, 1234, 100000, -100001, 123456789, -987654321012, 10**15 + 7)
# Locales whose patterns differ in every way the style follows: symbol after the number, a negative
# subpattern, Indian grouping, right-to-left marks, no-break and narrow spaces, an apostrophe group.
LOCALES = (
    *("en_US", "en_CA", "en_IN", "fr_FR", "fr_CH", "de_CH", "de_DE", "nl_NL", "es_CO", "pt_BR"),
    *("ja_JP", "ar_EG", "he_IL", "fa_IR", "hi_IN", "sv_SE", "pl_PL", "my_MM", "bn_BD", "sw_KE"),
)


@pytest.fixture(autouse=True)
def nothing_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amount_style, "_REMEMBERED", {})


def babel_text(minor: int, currency: str, locale: str) -> str:
    with localcontext(money_context()) as context:  # as Money.format gives Babel the amount's digits
        context.traps[Inexact] = False
        amount = Decimal(minor).scaleb(-currency_exponent(currency))
        return format_currency(amount, currency, locale=locale)


def test_every_locale_babel_has_writes_amounts_as_babel_does() -> None:
    followed = 0
    for locale in localedata.locale_identifiers():
        for currency in ("USD", "EUR", "JPY", "KWD", "INR"):
            style = style_from_babel(locale, currency, "stamp")
            if style is None:  # a pattern the style does not follow: Babel keeps formatting it
                continue
            followed += 1
            for minor in AMOUNTS:
                assert style.format(minor) == babel_text(minor, currency, locale), (locale, currency, minor)
    assert followed > 5000  # nearly every pair: CLDR's standard currency patterns are all plain ones


def test_every_currency_a_store_can_choose_is_written_as_babel_does() -> None:
    for locale in LOCALES:
        for currency in sorted(selectable_currencies()):
            style = style_from_babel(locale, currency, "stamp")
            assert style is not None
            for minor in AMOUNTS:
                assert style.format(minor) == babel_text(minor, currency, locale), (locale, currency, minor)


def test_money_uses_a_remembered_style_for_its_pair_only() -> None:
    before = [Money(m, "CHF").format("de_CH") for m in AMOUNTS] + [Money(1234, "EUR").format("de_CH")]
    assert before[AMOUNTS.index(1234)] == "CHF\xa012.34"  # Babel's: what a remembered style must give
    style = style_from_babel("de_CH", "CHF", babel_stamp())
    assert style is not None
    # A style that writes the symbol differently shows which path wrote each amount.
    amount_style.remember([AmountStyle(**{**style.to_json(), "symbol": "Fr."})])
    assert Money(1234, "CHF").format("de_CH") == "Fr.\xa012.34"
    assert Money(1234, "EUR").format("de_CH") == before[-1]  # another pair: Babel, as before
    amount_style.remember([style])
    assert [Money(m, "CHF").format("de_CH") for m in AMOUNTS] + [Money(1234, "EUR").format("de_CH")] == before


def test_a_remembered_currency_keeps_its_digits_and_unknown_codes_are_still_refused() -> None:
    style = style_from_babel("fr_FR", "KWD", babel_stamp())
    assert style is not None and style.exponent == 3
    amount_style.remember([style])
    assert currency_exponent("KWD") == 3 and validate_currency("KWD") == "KWD"
    for bad in ("XYZ", "usd", "US", "DEM1"):
        with pytest.raises(ValueError):
            validate_currency(bad)


def test_a_style_survives_its_file_and_garbage_is_refused() -> None:
    style = style_from_babel("he_IL", "ILS", "s")
    assert style is not None
    assert AmountStyle.from_json(json.loads(json.dumps(style.to_json()))) == style
    for broken in (
        {**style.to_json(), "grouping": [0, 3]},
        {**style.to_json(), "exponent": "2"},
        {**style.to_json(), "prefixes": ["¤"]},
        {**style.to_json(), "symbol": None},
        {k: v for k, v in style.to_json().items() if k != "decimal"},
    ):
        with pytest.raises((KeyError, TypeError, ValueError)):
            AmountStyle.from_json(broken)


def test_the_data_folder_keeps_the_style_of_the_installed_babel_only(tmp_path: Path) -> None:
    amount_styles.keep(tmp_path, "fr_FR", "EUR")
    kept = json.loads((tmp_path / amount_styles.FILE).read_text(encoding="utf-8"))
    assert [(k["locale"], k["currency"], k["stamp"]) for k in kept] == [("fr_FR", "EUR", babel_stamp())]
    amount_style._REMEMBERED.clear()
    amount_styles.load(tmp_path)
    assert amount_style.remembered("fr_FR", "EUR") == AmountStyle.from_json(kept[0])

    amount_style._REMEMBERED.clear()  # written under another Babel: not used, and written anew
    (tmp_path / amount_styles.FILE).write_text(json.dumps([{**kept[0], "stamp": "1:2"}]), encoding="utf-8")
    amount_styles.load(tmp_path)
    assert amount_style.remembered("fr_FR", "EUR") is None
    amount_styles.keep(tmp_path, "fr_FR", "EUR")
    assert json.loads((tmp_path / amount_styles.FILE).read_text(encoding="utf-8")) == kept

    amount_style._REMEMBERED.clear()
    (tmp_path / amount_styles.FILE).write_text("[{]", encoding="utf-8")
    amount_styles.load(tmp_path)  # unreadable: nothing remembered, amounts written by Babel
    assert amount_style._REMEMBERED == {}
    assert Money(123456, "EUR").format("fr_FR") == babel_text(123456, "EUR", "fr_FR")


def test_a_style_remembered_from_one_data_folder_is_still_kept_in_another(tmp_path: Path) -> None:
    """Remembered in this process is not the same as kept in this folder: the next start reads the folder."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    amount_styles.keep(first, "en_US", "USD")
    assert amount_style.remembered("en_US", "USD") is not None
    amount_styles.keep(second, "en_US", "USD")
    kept = json.loads((second / amount_styles.FILE).read_text(encoding="utf-8"))
    assert [(k["locale"], k["currency"]) for k in kept] == [("en_US", "USD")]


def test_the_second_start_shows_amounts_without_loading_babel(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "POSDESK_DATA_DIR": str(tmp_path),
        "POSDESK_STARTUP_PROBE": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    first = [sys.executable, "-m", "posdesk.gui", "--companion-url", UNREACHABLE]
    started = subprocess.run(first, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "ready" in started.stdout and (tmp_path / amount_styles.FILE).exists()
    second = (
        "import json, sys; from pathlib import Path; from posdesk.gui.app import open_pos; "
        "from posdesk.gui.qt import QApplication; app = QApplication([]); "
        f"pos = open_pos(companion_url={UNREACHABLE!r}, data_dir=Path(sys.argv[1])); pos.window.show(); "
        "app.processEvents(); shown = pos.window.ticket_view.totals_panel.balance_due_label.text(); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'babel'); pos.stop(); "
        "print(json.dumps([shown, loaded, pos.ctx.settings.currency, pos.ctx.locale]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", second, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown, loaded, currency, locale = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == []
    assert shown == babel_text(0, currency, locale)
