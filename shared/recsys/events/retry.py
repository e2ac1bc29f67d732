"""Resending what a batch call left undone: DynamoDB's BatchGetItem and BatchWriteItem answer with the
keys or items they did not process, Firehose's PutRecordBatch with the records it refused (mostly
throttling, so the waits between attempts grow and are jittered)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from recsys.errors import EventStoreUnavailableError


def resend_until_done[T](pending: list[T], send: Callable[[list[T]], list[T]], attempts: int, what: str) -> None:
    """Call `send` with what is still pending until it leaves nothing; after `attempts` calls, 503.

    `send` returns the part it did not process; `what` names it in the error ("the event log refused")."""
    for attempt in range(attempts):
        pending = send(pending)
        if not pending:
            return
        if attempt < attempts - 1:
            # 50 ms doubling, with full jitter so that throttled senders do not come back in step
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
    raise EventStoreUnavailableError(f"{what} {len(pending)}; retry")
