"""One fresh process measuring the local cache: ``python -m bench.cache_probe DATA_DIR [SEARCHES]``.

Imports first (they do not depend on the cache), then the clock runs over what the POS does before the
New Ticket view can show: open (and migration check), settings, catalog and today's appointments. The
Tickets list's first page is timed on its own: the POS reads it when the Tickets tab is first shown, not
at start-up. Then ticket searches as the Tickets panel makes them, by client name prefix and by ticket
number. Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.cache_data import FIRST, client_names
from bench.report import rss_kb
from posdesk.gui.backend import PosBackend
from posdesk.store import Database, TicketRepository


def main(data_dir: Path, searches: int) -> None:
    started = time.perf_counter()
    db = Database.open(data_dir / "posdesk.db")
    backend = PosBackend(db)
    backend.settings()
    backend.catalog()
    backend.todays_appointments(datetime.now(UTC).date(), UTC)
    load = time.perf_counter() - started
    started = time.perf_counter()
    first_page = backend.list_tickets("")
    tickets_page = time.perf_counter() - started
    with db.reading() as session:
        count = TicketRepository(session).count()
    rng = random.Random(7)
    names = client_names(random.Random(1_000_000))
    by_name, by_number, repo_name = [], [], []
    for _ in range(searches):
        first, last = rng.choice(names)
        text = rng.choice((first, f"{first} {last[:3]}", f"{first} {last}"))
        t = time.perf_counter()
        backend.list_tickets(text)
        by_name.append(time.perf_counter() - t)
        t = time.perf_counter()
        with db.reading() as session:
            TicketRepository(session).list(search=text)
        repo_name.append(time.perf_counter() - t)
        t = time.perf_counter()
        found = backend.list_tickets(f"#{rng.randint(1, max(1, count))}")
        by_number.append(time.perf_counter() - t)
        assert count == 0 or len(found) == 1
    db.close()
    print(
        json.dumps(
            {
                "load": load,
                "tickets_page": tickets_page,
                "tickets": count,
                "first_page": len(first_page),
                "by_name": by_name,
                "repo_name": repo_name,
                "by_number": by_number,
                "rss_kb": rss_kb(),
                "names": list(FIRST[:1]),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
