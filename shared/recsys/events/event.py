"""One user event as ingestion stores it, whichever body it came in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recsys.events.models import EventBatchRequest, EventIn, PutEventsRequest


@dataclass(frozen=True)
class UserEvent:
    user_id: str
    session_id: str
    item_id: str
    event_type: str
    sent_at_ms: int
    event_value: float | None = None
    properties: str | None = None
    event_id: str | None = None
    recommendation_id: str | None = None
    impression: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """The event's identity within its user (its sort key): time first, so a query reads newest first.

        The same user, time, type and item is the same event, however often it is delivered; 13 digits
        of milliseconds sort as text until the year 2286."""
        return f"{self.sent_at_ms:013d}#{self.event_type}#{self.item_id}"

    def log_record(self, received_at_ms: int) -> dict[str, Any]:
        """The event log's line: what training reads, and what an analyst may want besides."""
        record: dict[str, Any] = {
            "user_id": self.user_id,
            "item_id": self.item_id,
            "timestamp": self.sent_at_ms // 1000,
            "sent_at_ms": self.sent_at_ms,
            "event_type": self.event_type,
            "session_id": self.session_id,
            "received_at_ms": received_at_ms,
        }
        optional = {
            "event_value": self.event_value,
            "properties": self.properties,
            "event_id": self.event_id,
            "recommendation_id": self.recommendation_id,
            "impression": list(self.impression) if self.impression is not None else None,
        }
        record.update({name: value for name, value in optional.items() if value is not None})
        return record


def _from(user_id: str, session_id: str, event: EventIn) -> UserEvent:
    return UserEvent(
        user_id=user_id,
        session_id=session_id,
        item_id=event.item_id,
        event_type=event.event_type,
        sent_at_ms=round(event.sent_at.timestamp() * 1000),
        event_value=event.event_value,
        properties=event.properties,
        event_id=event.event_id,
        recommendation_id=event.recommendation_id,
        impression=tuple(event.impression) if event.impression is not None else None,
    )


def events_of(body: PutEventsRequest | EventBatchRequest) -> list[UserEvent]:
    """Either body as a flat list of events, in the order sent."""
    if isinstance(body, PutEventsRequest):
        return [_from(body.user_id, body.session_id, event) for event in body.event_list]
    return [_from(event.user_id, event.session_id, event) for event in body.events]
