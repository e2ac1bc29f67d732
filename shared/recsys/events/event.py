"""One user event as ingestion stores it, whichever body it came in. The request models convert to it in
the ingestor, so what only stores or reads events (the table, the session read) does not depend on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
