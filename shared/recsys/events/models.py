"""The bodies of POST /events (shaped like Amazon Personalize PutEvents) and POST /events/batch.

Field names are Personalize's (camelCase) so a sender written for PutEvents needs only a new URL.
Ids follow the API's id rules; those, the clock-skew bound and the size limits are settings, so
they are checked by the ingestor (`recsys.events.ingest`), not here.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, WithJsonSchema, field_validator

#: a JSON object, as Personalize sends it (a string) or as an object; at most this many characters
MAX_PROPERTIES_CHARACTERS = 1024
#: Personalize's own limit per PutEvents call
MAX_EVENT_LIST = 10

EventType = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]


#: what `sentAt` accepts (pydantic reads both)
_SENT_AT_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
    "description": "epoch seconds, or ISO 8601 with a time zone",
}
#: what `properties` accepts (kept as the canonical JSON text of the object)
_PROPERTIES_SCHEMA = {
    "anyOf": [{"type": "object"}, {"type": "string"}, {"type": "null"}],
    "description": "a JSON object, or a string holding one (as PutEvents sends it)",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EventIn(_Body):
    """One entry of PutEvents' eventList."""

    event_type: EventType = Field(alias="eventType")
    item_id: str = Field(alias="itemId", min_length=1)
    sent_at: Annotated[AwareDatetime, WithJsonSchema(_SENT_AT_SCHEMA)] = Field(alias="sentAt")
    event_id: str | None = Field(None, alias="eventId", max_length=256)
    event_value: StrictFloat | None = Field(None, alias="eventValue")  # strict: `true` is not a value
    properties: Annotated[str | None, WithJsonSchema(_PROPERTIES_SCHEMA)] = None
    recommendation_id: str | None = Field(None, alias="recommendationId", max_length=256)
    impression: list[str] | None = Field(None, max_length=100)

    @field_validator("event_value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("properties", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | dict):
            raise ValueError("must be a JSON object, or a string holding one")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object ({exc.msg})") from None
            if not isinstance(value, dict):
                raise ValueError("must be a JSON object")
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        if len(text) > MAX_PROPERTIES_CHARACTERS:
            raise ValueError(f"must be at most {MAX_PROPERTIES_CHARACTERS} characters of JSON")
        return text


class PutEventsRequest(_Body):
    """POST /events: one user's events of one session."""

    user_id: str = Field(alias="userId", min_length=1)
    session_id: str = Field(alias="sessionId", min_length=1)
    event_list: list[EventIn] = Field(alias="eventList", min_length=1, max_length=MAX_EVENT_LIST)
    tracking_id: str | None = Field(None, alias="trackingId", description="accepted for PutEvents senders; unused")


class UserEventIn(EventIn):
    """One event of a batch: it names its user and session itself."""

    user_id: str = Field(alias="userId", min_length=1)
    session_id: str = Field(alias="sessionId", min_length=1)


class EventBatchRequest(_Body):
    """POST /events/batch: events of many users, for server-side senders (at most MAX_BATCH_EVENTS)."""

    events: list[UserEventIn] = Field(min_length=1)


class Ingested(BaseModel):
    accepted: int = Field(description="events stored now")
    duplicates: int = Field(description="events already stored (a re-delivery), or repeated within this request")
