"""Currency tables, one per purpose, and the converter used at each gateway's edge.

Three tables answer three different questions and must not be mixed up:

* **Display** (:func:`posdesk.core.money.currency_exponent`, from CLDR through Babel): how many digits
  the store's amounts have. :class:`~posdesk.core.money.Money` counts minor units of *this* exponent,
  so the page, the POS and the receipt never show a fraction the store does not use (COP, HUF, IDR are
  shown in whole units).
* **ISO 4217** (:data:`ISO_4217`): the standard's minor units (COP 2, HUF 2, IDR 2, IQD 3). Only the
  currencies listed here can be chosen by a store: a withdrawn code (DEM) or a fund code (XAU) cannot.
* **Each gateway's** (:data:`STRIPE`, :data:`CLOUD9`, :data:`SIMULATOR`): the unit the gateway's API
  counts in. Stripe counts most currencies in hundredths even where the display has none (COP 50,000
  is ``amount=5000000``), counts its zero-decimal currencies in whole units (JPY, UGX), and takes
  three-decimal currencies only in multiples of ten (KWD 1.230 is ``1230``).

:func:`to_gateway_minor` and :func:`from_gateway_minor` convert exactly or refuse; nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from posdesk.core.money import Money, currency_exponent


class UnchargeableAmount(ValueError):
    """An amount or currency a gateway cannot take as it is; nothing is rounded to make it fit."""


# ISO 4217 list one (current codes), minor units. Codes with no minor unit ("N.A.": precious metals,
# SDRs, testing codes) are left out: a store cannot price in them.
_ISO_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL "
    "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK "
    "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
    "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWG"
)
_ISO_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_ISO_3 = "BHD IQD JOD KWD LYD OMR TND"
_ISO_4 = "CLF UYW"
ISO_4217: Mapping[str, int] = {
    **{code: 2 for code in _ISO_2.split()},
    **{code: 0 for code in _ISO_0.split()},
    **{code: 3 for code in _ISO_3.split()},
    **{code: 4 for code in _ISO_4.split()},
}


@dataclass(frozen=True, slots=True)
class GatewayCurrencies:
    """What one gateway charges in: its currencies, its unit per currency, and the steps it requires.

    ``exponents`` maps a currency to the number of decimal digits of the gateway's amount field;
    ``steps`` maps a currency to the multiple (in gateway units) every amount must be; ``None`` for
    ``currencies`` means "any currency, counted like the display" (the Simulator).
    """

    gateway: str
    currencies: frozenset[str] | None
    default_exponent: int | None = None  # None: the display exponent
    exponents: Mapping[str, int] = field(default_factory=dict)
    steps: Mapping[str, int] = field(default_factory=dict)

    def charges(self, currency: str) -> bool:
        return self.currencies is None or currency in self.currencies

    def exponent(self, currency: str) -> int:
        if not self.charges(currency):
            raise UnchargeableAmount(f"{self.gateway} cannot charge in {currency}")
        if currency in self.exponents:
            return self.exponents[currency]
        return currency_exponent(currency) if self.default_exponent is None else self.default_exponent

    def step(self, currency: str) -> int:
        return self.steps.get(currency, 1)


# Stripe's presentment currencies (docs.stripe.com/currencies). Amounts are in the currency's
# "smallest unit" as *Stripe* counts it: hundredths unless listed below.
_STRIPE_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP BYN BZD "
    "CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GNF GTQ "
    "GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD "
    "LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK "
    "PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD SZL THB TJS TND TOP TRY "
    "TTD TWD TZS UAH UGX USD UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW"
)
# Zero-decimal at Stripe: the amount is whole units (JPY 500 is 500).
_STRIPE_ZERO = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF"
# Three-decimal at Stripe: thousandths, and the last digit must be 0 (KWD 1.230 is 1230).
_STRIPE_THREE = "BHD JOD KWD OMR TND"
STRIPE = GatewayCurrencies(
    gateway="Stripe",
    currencies=frozenset(_STRIPE_CODES.split()),
    default_exponent=2,
    exponents={
        **{code: 0 for code in _STRIPE_ZERO.split()},
        **{code: 3 for code in _STRIPE_THREE.split()},
        # Special cases: ISK is zero-decimal in ISO but Stripe keeps two decimals for backwards
        # compatibility, so ISK 500 is 50000 and must be a multiple of 100. HUF and TWD are
        # two-decimal for charges (only their payouts are whole units); the default covers them.
        "ISK": 2,
    },
    steps={**{code: 10 for code in _STRIPE_THREE.split()}, "ISK": 100},
)
# Cloud9 (C9PG) processes North American card-present and e-commerce transactions; its JSON API
# documents amounts as integer cents only (an assumption beyond USD and CAD would be a guess).
CLOUD9 = GatewayCurrencies(gateway="Cloud9", currencies=frozenset({"USD", "CAD"}), default_exponent=2)
# The Simulator charges what the store shows: any currency, in display minor units.
SIMULATOR = GatewayCurrencies(gateway="Simulator", currencies=None)

GATEWAY_CURRENCIES: Mapping[str, GatewayCurrencies] = {
    "stripe": STRIPE,
    "cloud9": CLOUD9,
    "simulator": SIMULATOR,
}


def selectable_currencies() -> frozenset[str]:
    """The currencies a store may price in: current ISO 4217 codes that also have display data."""
    from posdesk.core.money import _known_currencies

    return frozenset(code for code in ISO_4217 if code in _known_currencies())


def check_store_currency(currency: str) -> str:
    """``currency`` if a store may choose it, else ``ValueError`` saying why."""
    if currency not in selectable_currencies():
        raise ValueError(f"{currency!r} is not a current ISO 4217 currency a store can price in")
    return currency


def table_for(gateway_kind: str) -> GatewayCurrencies:
    """The currency table of a gateway driver by its ``kind``; an unknown kind charges like the display."""
    return GATEWAY_CURRENCIES.get(gateway_kind, SIMULATOR)


def check_gateway_currency(gateway_kind: str, currency: str) -> None:
    """Refuse (``UnchargeableAmount``) a store currency the gateway cannot charge."""
    table = table_for(gateway_kind)
    if not table.charges(currency):
        raise UnchargeableAmount(
            f"{table.gateway} cannot charge in {currency}; choose another gateway or currency"
        )


def gateway_scale(gateway_kind: str, currency: str) -> int:
    """How many of the gateway's units one display minor unit is (1 where they agree or it cannot charge)."""
    table = table_for(gateway_kind)
    if not table.charges(currency):
        return 1
    scale: int = 10 ** max(table.exponent(currency) - currency_exponent(currency), 0)
    return scale


def to_gateway_minor(amount: Money, table: GatewayCurrencies) -> int:
    """``amount`` in the gateway's unit, exactly; :class:`UnchargeableAmount` when it does not fit."""
    shift = table.exponent(amount.currency) - amount.exponent
    value: int
    if shift >= 0:
        value = amount.minor * 10**shift
    else:
        value, rest = divmod(amount.minor, 10**-shift)
        if rest:
            raise UnchargeableAmount(f"{table.gateway} cannot charge {amount} exactly")
    step = table.step(amount.currency)
    if value % step:
        raise UnchargeableAmount(
            f"{table.gateway} charges {amount.currency} only in steps of "
            f"{from_gateway_minor(step, amount.currency, table, check_step=False)}; {amount} is not one"
        )
    return value


def from_gateway_minor(
    value: int, currency: str, table: GatewayCurrencies, *, check_step: bool = True
) -> Money:
    """A gateway's amount field read back as :class:`Money`; refuses a value finer than the display."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("gateway amounts are integers")
    shift = table.exponent(currency) - currency_exponent(currency)
    if check_step and value % table.step(currency):
        raise UnchargeableAmount(f"{table.gateway} reported {value} {currency}, not a multiple of its step")
    if shift <= 0:
        return Money(value * 10**-shift, currency)
    minor, rest = divmod(value, 10**shift)
    if rest:
        raise UnchargeableAmount(
            f"{table.gateway} reported {value} {currency}, finer than the store's amounts"
        )
    return Money(minor, currency)
