"""A generated local cache of N tickets, kept under /tmp between runs (a million takes a while to write).

The file is a real posdesk cache: opened (and migrated) by :meth:`Database.open` with the sample data,
then filled with raw SQL in one transaction: 5,000 clients and N tickets of one line each, in the
states a busy salon accumulates (mostly paid). Rows are written the way the repositories write them
(search keys, naive-UTC times), so the POS reads them like its own.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.script import ScriptDirectory

from posdesk.store import Database
from posdesk.store.database import alembic_config
from posdesk.store.sample import load_sample_data
from posdesk.store.search import email_key, name_key, phone_key

CLIENTS = 5_000
FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Inés",
    "Jon",
    "Kim",
    "Lena",
    "Marco",
    "Noor",
)
LAST = (
    "Díaz",
    "Bennett",
    "Okafor",
    "Nguyen",
    "Rossi",
    "Smith",
    "Kowalski",
    "Haddad",
    "Silva",
    "Schmidt",
    "Moreau",
)
STATES = ("paid",) * 17 + ("open", "awaiting_payment", "voided")


def cache_dir(tickets: int) -> Path:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return Path(f"/tmp/posdesk-bench-cache-{tickets}-{head}")


def client_names(rng: random.Random) -> list[tuple[str, str]]:
    return [(rng.choice(FIRST), f"{rng.choice(LAST)}{n}") for n in range(CLIENTS)]


def generate(tickets: int) -> Path:
    """The data directory holding ``posdesk.db`` with ``tickets`` tickets (made once, then reused)."""
    directory = cache_dir(tickets)
    done = directory / "complete"
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "posdesk.db"
    path.unlink(missing_ok=True)
    db = Database.open(path)
    load_sample_data(db, datetime.now(UTC).date(), UTC)
    db.close()
    rng = random.Random(1_000_000)
    names = client_names(rng)
    start = datetime(2021, 1, 1)
    stamp = start.isoformat(sep=" ")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO clients VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                f"bc{n:07d}",
                first,
                last,
                f"555{n:07d}",
                f"c{n}@example.com",
                1,
                1,
                name_key(f"{first} {last}"),
                name_key(f"{last} {first}"),
                phone_key(f"555{n:07d}"),
                phone_key(f"555{n:07d}")[::-1],
                email_key(f"c{n}@example.com"),
                stamp,
                stamp,
            )
            for n, (first, last) in enumerate(names)
        ),
    )

    def ticket_rows():  # a generator of row tuples
        for number in range(1, tickets + 1):
            n = rng.randrange(CLIENTS)
            first, last = names[n]
            when = (start + timedelta(minutes=number * 2)).isoformat(sep=" ")
            yield (
                f"bt{number:010d}",
                number,
                "USD",
                f"bc{n:07d}",
                f"{first} {last}",
                name_key(f"{first} {last}"),
                rng.choice(STATES),
                1,
                "[]",
                "",
                when,
                when,
            )

    connection.executemany("INSERT INTO tickets VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ticket_rows())
    connection.executemany(
        "INSERT INTO ticket_lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                f"bl{number:010d}",
                f"bt{number:010d}",
                0,
                "svc-womens-cut",
                "appointment",
                "Women's cut",
                6500,
                1,
                "0",
                None,
                None,
                None,
                "",
                "Rosa",
                None,
                "",
                "",
            )
            for number in range(1, tickets + 1)
        ),
    )
    connection.execute("COMMIT")
    connection.execute("PRAGMA optimize")  # what Database.close does: planner statistics
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    done.touch()
    return directory
