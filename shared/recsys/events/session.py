"""The session read of GET /recommendations: the user's latest events from the table, within a budget.

A recommendation must not wait on, or fail because of, the event table: the read is one query with
one attempt, and the request waits for it at most `SESSION_READ_TIMEOUT_MS` (a deadline on the
whole call, not only botocore's per-socket timeouts, which a slow trickle of bytes never trips). A
read that fails or misses the deadline is skipped, with the reason logged and counted, and the user
is served from the model alone; a late read finishes in its thread and is dropped.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools.metrics import MetricUnit

from recsys.events.settings import EventSettings, get_event_settings
from recsys.events.table import UserEventsTable
from recsys.runtime.container import per_container
from recsys.runtime.telemetry import logger, metrics


@dataclass(frozen=True)
class SessionReader:
    table: UserEventsTable
    events: int
    timeout_seconds: float

    def recent_items(self, user_id: str) -> list[str]:
        """Items of the user's latest events, newest first; empty if the read failed or missed its deadline."""
        try:
            self.table.prepare_reads(self.timeout_seconds)  # outside the deadline
            started = time.perf_counter()
            read = _reads().submit(self.table.recent_items, user_id, self.events, self.timeout_seconds)
            items = read.result(timeout=self.timeout_seconds)
        except TimeoutError:
            return _skipped(f"no answer within {self.timeout_seconds * 1000:.0f} ms")
        except Exception as exc:  # any failure of the table is a degraded answer, never a failed one
            return _skipped(f"{type(exc).__name__}: {exc}")
        metrics.add_metric(
            name="session_read_latency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
        return items


@cache
def _reads() -> ThreadPoolExecutor:
    # two workers: a read that missed its deadline may still hold one while the next request reads
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="session-read")


def _skipped(reason: str) -> list[str]:
    logger.warning("session read skipped", extra={"reason": reason[:300]})
    metrics.add_metric(name="session_read_skipped", unit=MetricUnit.Count, value=1)
    return []


def session_reader_for(settings: EventSettings) -> SessionReader | None:
    table = settings.user_events()
    if table is None:
        return None
    return SessionReader(table, settings.session_events, settings.session_read_timeout_ms / 1000)


@per_container
def get_session_reader() -> SessionReader | None:
    """The session read of this container; None where no table is configured (local serving, batch)."""
    return session_reader_for(get_event_settings())
