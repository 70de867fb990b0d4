"""What the client chose on the payment page before a payment failed, to show the page again with it.

A declined card must not cost the client the tip they picked: the page that reports the decline comes back
with the same tip, custom tip, card and "save this card" as posted (never the card's number, which the page
never sees back), and says where the problem is (:attr:`Chosen.problem_at`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData

# Where a problem is shown on the page: beside the card fields, the tip buttons, the promo code, or at the top.
CARD, TIP, PROMO, TOP = "card", "tip", "promo", "top"


@dataclass(frozen=True, slots=True)
class Chosen:
    """The posted choices (as text, never trusted: the template only re-checks matching options)."""

    tip: str = "none"
    tip_custom: str = ""
    card: str = ""
    save_card: bool | None = None  # None: the page's default
    problem_at: str = TOP

    def at(self, place: str) -> Chosen:
        return Chosen(self.tip, self.tip_custom, self.card, self.save_card, place)


NOTHING = Chosen()


def posted(form: FormData) -> Chosen:
    def text(name: str, limit: int) -> str:
        value = form.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    return Chosen(
        tip=text("tip", 40) or "none",
        tip_custom=text("tip_custom", 40),
        card=text("card", 64),
        save_card=text("save_card", 5) in ("on", "1", "yes"),
    )
