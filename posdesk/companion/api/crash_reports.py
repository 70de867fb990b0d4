"""Crash reports from terminals (sent only when the terminal opted in, ``posdesk.crash``), kept for IT.

``POST /api/v1/crash-reports`` stores one (a resend of the same file is answered as already kept);
``GET /api/v1/crash-reports`` lists the store's newest reports with their text. Reports are redacted on
the terminal and again here (``posdesk.logs.redact``), and each arrival is logged with the terminal and
the version it ran.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from posdesk.companion.deps import DbDep, TerminalDep
from posdesk.companion.models import CrashReport
from posdesk.logs import redact

router = APIRouter(tags=["crash reports"])
log = logging.getLogger("posdesk.companion.crash_reports")
MAX_TEXT = 60_000  # a traceback, not a core dump
LISTED = 50


class CrashReportIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^crash-[0-9A-Za-z._-]+\.txt$")
    text: str = Field(min_length=1, max_length=MAX_TEXT)


@router.post("/crash-reports")
def receive_crash_report(report: CrashReportIn, terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """Keep one crash report of the calling terminal."""
    with db.write() as session:
        known = session.scalar(
            select(CrashReport.id).where(
                CrashReport.terminal_id == terminal.id, CrashReport.name == report.name
            )
        )
        if known is not None:
            return {"id": known, "kept": "already"}
        row = CrashReport(
            id=uuid.uuid4().hex,
            store_id=terminal.store_id,
            terminal_id=terminal.id,
            app_version=terminal.app_version,
            name=report.name,
            text=redact(report.text),
        )
        session.add(row)
    first_line = next((line for line in reversed(row.text.strip().splitlines()) if line.strip()), "")
    log.warning(
        "crash report %s from terminal %s (%s, posdesk %s): %s",
        report.name, terminal.id, terminal.name, terminal.app_version or "?", first_line[:200],
    )  # fmt: skip
    return {"id": row.id, "kept": "new"}


@router.get("/crash-reports")
def list_crash_reports(terminal: TerminalDep, db: DbDep) -> dict[str, Any]:
    """The store's newest crash reports (all its terminals), newest first."""
    with db.read() as session:
        rows = session.scalars(
            select(CrashReport)
            .where(CrashReport.store_id == terminal.store_id)
            .order_by(CrashReport.received_at.desc())
            .limit(LISTED)
        ).all()
        return {
            "crash_reports": [
                {
                    "id": row.id,
                    "terminal_id": row.terminal_id,
                    "app_version": row.app_version,
                    "name": row.name,
                    "received_at": row.received_at.isoformat(),
                    "text": row.text,
                }
                for row in rows
            ]
        }
