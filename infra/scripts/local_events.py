"""The events table and the event-log stream, created in whatever moto the environment points at.

For the scripts that show ingestion and the session path without AWS (the benchmarks, `make
invoke FUNCTION=ingest`): the table is keyed as `template.yaml` declares it (the template tests pin
the template to `recsys.events.table`'s constants, so these are the same), the stream delivers into
`s3://bucket/prefix/events/` as the template's does. And a table answering reads from memory, for
measuring the session path without any store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recsys.events.table import UserEventsTable

TABLE, STREAM = "recsys-user-events", "recsys-events"


def create_event_store(bucket: str, prefix: str, table: str = TABLE, stream: str = STREAM) -> dict[str, str]:
    """Create the bucket (if missing), the table and the stream; returns the functions' environment for them."""
    import boto3
    from recsys.events.table import KEY, USER

    s3 = boto3.client("s3")
    if bucket not in {entry["Name"] for entry in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    boto3.client("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": USER, "KeyType": "HASH"}, {"AttributeName": KEY, "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": USER, "AttributeType": "S"},
            {"AttributeName": KEY, "AttributeType": "S"},
        ],
    )
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=stream,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/events-delivery",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": f"{prefix}/events/",
        },
    )
    return {"USER_EVENTS_TABLE": table, "EVENTS_STREAM": stream}


def stored_events(bucket: str, prefix: str, table: str = TABLE) -> list[str]:
    """What the table and the log hold, one line each, for a reader of stderr."""
    import boto3
    from recsys.events.table import ITEM, KEY, USER

    rows = boto3.client("dynamodb").scan(TableName=table)["Items"]
    lines = [f"table {table}: {len(rows)} events"]
    lines += [f"  user {row[USER]['S']}  {row[KEY]['S']}  item {row[ITEM]['S']}" for row in rows]
    s3 = boto3.client("s3")
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/events/").get("Contents", []):
        lines.append(f"log s3://{bucket}/{obj['Key']}  ({obj['Size']} bytes)")
    return lines


@dataclass(frozen=True)
class MemoryEventsTable(UserEventsTable):
    """Reads from memory: user -> items of their latest events, newest first (as `recent_items` answers).

    What the session path costs our code without a store (the benchmarks), or a replay's events so far."""

    sessions: dict[str, list[str]] = field(default_factory=dict)

    def prepare_reads(self, timeout_seconds: float) -> None:
        pass  # no client

    def recent_items(self, user_id: str, limit: int, timeout_seconds: float) -> list[str]:
        return self.sessions.get(user_id, [])[:limit]
