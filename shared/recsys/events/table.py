"""The user-events table (DynamoDB): each user's recent events, newest first, for serving.

Key: `user_id` (partition) and the event's key (sort: time, type, item), so a re-delivered event
overwrites itself and a query with ScanIndexForward=false reads a user's latest events. Items expire
`events_ttl_days` after the event's own time (`expires_at`, the table's TTL attribute); DynamoDB
deletes expired items lazily, so readers skip them too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsys import aws
from recsys.events.event import UserEvent
from recsys.events.retry import resend_until_done

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        WriteRequestTypeDef,
    )

USER, KEY, ITEM, EXPIRES = "user_id", "event_key", "item_id", "expires_at"
MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES = 2048, 1024  # DynamoDB's, in UTF-8
GET_BATCH, WRITE_BATCH = 100, 25  # DynamoDB's limits per BatchGetItem and per BatchWriteItem
ATTEMPTS = 5  # calls for the items a batch call leaves unprocessed (throttling)


@dataclass(frozen=True)
class UserEventsTable:
    name: str
    ttl_seconds: float

    def _item(self, event: UserEvent) -> dict[str, AttributeValueTypeDef]:
        item: dict[str, AttributeValueTypeDef] = {
            USER: {"S": event.user_id},
            KEY: {"S": event.key},
            ITEM: {"S": event.item_id},
            "event_type": {"S": event.event_type},
            "sent_at_ms": {"N": str(event.sent_at_ms)},
            "session_id": {"S": event.session_id},
            EXPIRES: {"N": str(int(event.sent_at_ms / 1000 + self.ttl_seconds))},
        }
        if event.event_value is not None:
            item["event_value"] = {"N": repr(event.event_value)}
        return item

    def stored(self, events: Sequence[UserEvent]) -> set[tuple[str, str]]:
        """(user_id, key) of those of these events the table already holds."""
        found: set[tuple[str, str]] = set()

        def get(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
            # consistent: a retry right after a write must find what that write stored
            request: KeysAndAttributesTypeDef = {
                "Keys": keys,
                "ProjectionExpression": f"{USER}, {KEY}",
                "ConsistentRead": True,
            }
            answer = aws.dynamodb().batch_get_item(RequestItems={self.name: request})
            found.update((row[USER]["S"], row[KEY]["S"]) for row in answer["Responses"].get(self.name, []))
            unprocessed: Any = answer.get("UnprocessedKeys") or {}
            return list(unprocessed.get(self.name, {}).get("Keys", []))

        for start in range(0, len(events), GET_BATCH):
            keys = [{USER: {"S": e.user_id}, KEY: {"S": e.key}} for e in events[start : start + GET_BATCH]]
            resend_until_done(keys, get, ATTEMPTS, "reads the event table left unprocessed:")
        return found

    def put(self, events: Sequence[UserEvent]) -> None:
        """Store the events (overwriting any with the same key: the same event)."""

        def write(requests: list[WriteRequestTypeDef]) -> list[WriteRequestTypeDef]:
            answer = aws.dynamodb().batch_write_item(RequestItems={self.name: requests})
            left: Any = answer.get("UnprocessedItems") or {}
            return list(left.get(self.name, []))

        for start in range(0, len(events), WRITE_BATCH):
            requests: list[WriteRequestTypeDef] = [
                {"PutRequest": {"Item": self._item(e)}} for e in events[start : start + WRITE_BATCH]
            ]
            resend_until_done(requests, write, ATTEMPTS, "writes the event table left unprocessed:")

    def prepare_reads(self, timeout_seconds: float) -> None:
        """Build the reads' client now (once per container; later calls are a cache lookup), so that a
        read's deadline is spent on the read, not on loading botocore's DynamoDB model."""
        aws.dynamodb(timeout_seconds)

    def recent_items(self, user_id: str, limit: int, timeout_seconds: float) -> list[str]:
        """The items of the user's latest `limit` events that have not expired, newest first, each once.

        One query, one attempt, no socket wait longer than `timeout_seconds`; errors propagate."""
        answer = aws.dynamodb(timeout_seconds).query(
            TableName=self.name,
            KeyConditionExpression=f"{USER} = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
            ProjectionExpression=f"{ITEM}, {EXPIRES}",
            ScanIndexForward=False,
            Limit=limit,
        )
        now = time.time()
        items = [row[ITEM]["S"] for row in answer.get("Items", []) if float(row[EXPIRES]["N"]) > now]
        return list(dict.fromkeys(items))
