"""Case 25 in short: 200 payers and 50 webhooks/s for 10 s against a companion process.

The full minute is ``python -m tests.reliability.load`` (figures in ``docs/reliability.md``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.load import run_load

pytestmark = pytest.mark.slow


def test_200_payers_and_50_webhooks_a_second_without_5xx_or_duplicates(tmp_path: Path) -> None:
    report = run_load(seconds=10, payers=200, webhooks_per_second=50, invoices_per_payer=1, workdir=tmp_path)
    print("\n" + "\n".join(report.lines()))
    assert report.errors == 0, report.statuses
    assert report.refused == 0, report.statuses
    assert report.payments_made >= 100, "payers got through"
    assert report.webhooks_sent >= 100, "the webhook sender got through"
    assert (report.duplicate_payments, report.duplicate_paid_events) == (0, 0)
    assert report.unpaid_after_webhook == 0
