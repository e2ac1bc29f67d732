"""POST /events and POST /events/batch, independent of HTTP: validated bodies in, counts out.

Order of the writes, so that nothing is lost and a retry stores nothing twice in the table:
1. drop events repeated within the request, then those the table already holds (a re-delivery);
2. send the new ones to the log (Firehose);
3. write them to the table.
A failure at 2 or 3 answers 503 and the sender retries: after a failure at 3 the retry finds the
events still missing from the table and logs them again, which the log's reader absorbs (it keeps
each event once). The other order could lose an event from the log for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from recsys.errors import EventStoreUnavailableError, InvalidRequestError, TooLargeError
from recsys.events.event import UserEvent
from recsys.events.log import EventLog
from recsys.events.models import EventBatchRequest, EventIn, Ingested, PutEventsRequest
from recsys.events.settings import EventSettings, get_event_settings
from recsys.events.table import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, UserEventsTable
from recsys.idmap import ID_CHARACTERS, is_valid_id
from recsys.runtime.container import per_container
from recsys.runtime.telemetry import logger, metrics


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


class EventIngestor:
    def __init__(
        self,
        table: UserEventsTable,
        log: EventLog,
        settings: EventSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = table
        self.log = log
        self.settings = settings
        self.clock = clock

    def put_events(self, body: PutEventsRequest) -> Ingested:
        return self.ingest(events_of(body))

    def put_event_batch(self, body: EventBatchRequest) -> Ingested:
        if len(body.events) > self.settings.max_batch_events:
            raise TooLargeError(
                f"events has {len(body.events)} events; at most {self.settings.max_batch_events} are accepted"
            )
        return self.ingest(events_of(body))

    def _check(self, events: list[UserEvent], now_ms: int) -> None:
        latest = now_ms + self.settings.max_clock_skew_seconds * 1000
        earliest = now_ms - self.settings.events_ttl_days * 86_400_000
        longest = self.settings.max_id_length
        for position, event in enumerate(events):
            ids = [("userId", event.user_id), ("sessionId", event.session_id), ("itemId", event.item_id)]
            ids += [("impression", item) for item in event.impression or ()]
            for field, value in ids:
                if not is_valid_id(value, longest):
                    message = f"{field} must be 1-{longest} characters of {ID_CHARACTERS}"
                    raise InvalidRequestError(f"event {position}: {message}")
            if event.sent_at_ms > latest:
                raise InvalidRequestError(
                    f"event {position}: sentAt is {(event.sent_at_ms - now_ms) / 1000:.0f} s in the future "
                    f"(at most {self.settings.max_clock_skew_seconds:.0f} s of clock skew is accepted)"
                )
            if event.sent_at_ms < earliest:
                raise InvalidRequestError(
                    f"event {position}: sentAt is {(now_ms - event.sent_at_ms) / 86_400_000:.0f} days old; the "
                    f"events table keeps {self.settings.events_ttl_days:g} days (EVENTS_TTL_DAYS), so older "
                    "history belongs in the training data"
                )
            # DynamoDB's key limits are in UTF-8 bytes; an id of 128 letters may be 512 of them
            if len(event.user_id.encode()) > MAX_PARTITION_KEY_BYTES or len(event.key.encode()) > MAX_SORT_KEY_BYTES:
                raise InvalidRequestError(
                    f"event {position}: userId or itemId is too long for the events table's key "
                    f"(at most {MAX_PARTITION_KEY_BYTES} and {MAX_SORT_KEY_BYTES} bytes in UTF-8)"
                )

    def ingest(self, events: list[UserEvent]) -> Ingested:
        """Store each event once: all of them, or (on a 503) none the sender need not send again."""
        now_ms = round(self.clock() * 1000)
        self._check(events, now_ms)
        unique = list({(event.user_id, event.key): event for event in events}.values())
        try:
            stored = self.table.stored(unique)
            new = [event for event in unique if (event.user_id, event.key) not in stored]
            if new:
                self.log.put([event.log_record(now_ms) for event in new])
                self.table.put(new)
        except (BotoCoreError, ClientError, EventStoreUnavailableError) as exc:  # throttled, down: the sender retries
            logger.warning("event store failed", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            metrics.add_metric(name="event_store_unavailable", unit=MetricUnit.Count, value=1)
            if isinstance(exc, EventStoreUnavailableError):
                raise
            raise EventStoreUnavailableError("the event store is unavailable; retry the request") from exc
        return Ingested(accepted=len(new), duplicates=len(events) - len(new))


@per_container
def get_ingestor() -> EventIngestor:
    """This container's ingestor; refuses (503) where the table or the stream is not configured."""
    settings = get_event_settings()
    table = settings.user_events()
    if table is None or settings.events_stream is None:
        raise EventStoreUnavailableError("event ingestion is not configured: set USER_EVENTS_TABLE and EVENTS_STREAM")
    return EventIngestor(table, EventLog(settings.events_stream), settings)
