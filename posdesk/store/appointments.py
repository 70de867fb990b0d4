"""Today's appointments: what the New Ticket view's Services panel lists and opens onto a ticket."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import select, update

from posdesk.store.catalog import item_of
from posdesk.store.clients import client_of
from posdesk.store.models import AppointmentRow, CatalogItemRow, ClientRow
from posdesk.store.repository import Repository
from posdesk.store.values import Appointment, AppointmentStatus

__all__ = ["Appointment", "AppointmentRepository", "AppointmentStatus"]


class AppointmentRepository(Repository):
    """Appointments."""

    def for_date(self, day: date, tz: tzinfo) -> list[Appointment]:
        """The appointments starting on ``day`` in the store's time zone ``tz``, by start time."""
        start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        rows = self.session.execute(
            select(AppointmentRow, CatalogItemRow, ClientRow)
            .join(CatalogItemRow, AppointmentRow.item_id == CatalogItemRow.id)
            .outerjoin(ClientRow, AppointmentRow.client_id == ClientRow.id)
            .where(AppointmentRow.start_at >= start, AppointmentRow.start_at < end)
            .order_by(AppointmentRow.start_at, AppointmentRow.id)
            .execution_options(populate_existing=True)
        )
        return [
            Appointment(
                id=appt.id,
                client=None if client is None else client_of(client),
                service=item_of(item),
                staff=appt.staff,
                start=appt.start_at.astimezone(tz),
                duration_minutes=appt.duration_minutes,
                status=AppointmentStatus(appt.status),
                ticket_id=appt.ticket_id,
            )
            for appt, item, client in rows
        ]

    def book(
        self,
        appointment_id: str,
        *,
        client_id: str | None,
        item_id: str,
        staff: str,
        start: datetime,
        duration_minutes: int,
        status: AppointmentStatus = AppointmentStatus.BOOKED,
    ) -> None:
        """Add an appointment, or leave it as it is if one with this id exists."""
        self._insert_once(
            AppointmentRow,
            AppointmentRow.id,
            id=appointment_id,
            client_id=client_id,
            item_id=item_id,
            staff=staff,
            start_at=start,
            duration_minutes=duration_minutes,
            status=status.value,
        )

    def set_status(
        self, appointment_id: str, status: AppointmentStatus, ticket_id: str | None = None
    ) -> None:
        values: dict[str, object] = {"status": status.value}
        if ticket_id is not None:
            values["ticket_id"] = ticket_id
        result = self.session.execute(
            update(AppointmentRow)
            .where(AppointmentRow.id == appointment_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise KeyError(appointment_id)

    def mark_on_ticket(self, appointment_id: str, ticket_id: str) -> None:
        """The appointment was opened onto a ticket (the Services panel shows it as taken)."""
        self.set_status(appointment_id, AppointmentStatus.ON_TICKET, ticket_id)
