"""The event log: every new event as a JSON line, through Kinesis Data Firehose into S3.

Firehose buffers the lines and writes them as gzip objects under `<prefix>/events/YYYY/MM/DD/HH/`
(arrival time, UTC): few large objects instead of one per request, with no server of ours. Delivery
is at least once (Firehose may repeat a record after a partial failure, and so may an ingest retry
after its table write failed), so the reader drops repeated events by their identity, the same key
the table uses.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsys import aws
from recsys.events.retry import resend_until_done

if TYPE_CHECKING:
    import pandas as pd
    from mypy_boto3_firehose.type_defs import RecordTypeDef

RECORDS_PER_CALL, BYTES_PER_CALL = 500, 4 * 1024 * 1024  # PutRecordBatch's limits
ATTEMPTS = 3
#: what makes two log lines the same event (as the table's key does)
IDENTITY = ["user_id", "sent_at_ms", "event_type", "item_id"]


@dataclass(frozen=True)
class EventLog:
    stream: str

    def put(self, records: Sequence[dict[str, Any]]) -> None:
        """Send the records; those Firehose refuses are sent again, then the whole call fails."""
        lines = [(json.dumps(record, separators=(",", ":")) + "\n").encode() for record in records]

        def put_batch(pending: list[RecordTypeDef]) -> list[RecordTypeDef]:
            answer = aws.firehose().put_record_batch(DeliveryStreamName=self.stream, Records=pending)
            if not answer.get("FailedPutCount"):
                return []
            return [r for r, result in zip(pending, answer["RequestResponses"], strict=True) if "ErrorCode" in result]

        for batch in _batches(lines):
            pending: list[RecordTypeDef] = [{"Data": line} for line in batch]
            resend_until_done(pending, put_batch, ATTEMPTS, "events the event log refused:")


def _batches(lines: list[bytes]) -> Iterable[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and (len(batch) == RECORDS_PER_CALL or size + len(line) > BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        yield batch


def log_lines(body: bytes) -> list[dict[str, Any]]:
    """The events of one log object (gzip or plain JSON lines), as written."""
    text = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_log_objects(bodies: Iterable[bytes]) -> pd.DataFrame:
    """The events in these log objects, each event once, oldest first."""
    import pandas as pd

    rows = [row for body in bodies for row in log_lines(body)]
    frame = pd.DataFrame(rows, columns=None if rows else IDENTITY)
    return frame.drop_duplicates(IDENTITY).sort_values("sent_at_ms", kind="stable").reset_index(drop=True)
