"""Where events go and the limits on them, from environment variables validated once per container.

The ingest function needs the table and the stream; the rerank function only the table (for the
session read). Without USER_EVENTS_TABLE serving has no session path, as before.
"""

from __future__ import annotations

from pydantic import Field

from recsys.events.table import UserEventsTable
from recsys.runtime.container import per_container
from recsys.runtime.settings import RequestLimits


class EventSettings(RequestLimits):
    user_events_table: str | None = Field(None, description="DynamoDB table of each user's recent events")
    events_stream: str | None = Field(None, description="Firehose stream that writes the event log to S3")
    events_ttl_days: float = Field(30.0, gt=0, le=3650, description="how long the table keeps an event")
    max_batch_events: int = Field(500, ge=1, le=500)  # Firehose takes at most 500 records per call
    max_clock_skew_seconds: float = Field(900.0, ge=0, description="how far into the future sentAt may be")
    session_events: int = Field(50, ge=1, le=1000, description="recent events one recommendation reads")
    session_read_timeout_ms: float = Field(50.0, gt=0, le=5000, description="the session read's time budget")

    def user_events(self) -> UserEventsTable | None:
        if self.user_events_table is None:
            return None
        return UserEventsTable(self.user_events_table, self.events_ttl_days * 86_400)


@per_container
def get_event_settings() -> EventSettings:
    return EventSettings()
