"""POST /events and the session read of GET /recommendations, against DynamoDB and Firehose in moto.

moto runs as a server on 127.0.0.1 (every call a real HTTP round trip through boto3), so the
figures are our code plus boto3 plus a local socket: they show what the event path adds on top of
the model, not DynamoDB's own latency in a region.

- POST /events: one new event per call (BatchGetItem, PutRecordBatch, BatchWriteItem), the same
  event re-sent (BatchGetItem only), and POST /events/batch with 100 events of 10 users.
- GET /recommendations for users with 20 events each in the table, with the session read and
  without it (no USER_EVENTS_TABLE), the same users in the same order; the difference is what
  the read costs a request. And the read alone (one Query).
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
import warnings
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

from common import ROOT, event_file, for_user, latency_table, percentiles_ms, timed
from local_events import MemoryEventsTable, create_event_store
from moto import mock_aws

sys.path[:0] = [str(ROOT / "functions" / "rerank"), str(ROOT / "functions" / "ingest")]
SENT_AT = 1_795_435_200  # the event files' time (2026-11-23); events are spread over the hour before
SESSION_EVENTS, SESSION_USERS = 20, 20  # moto's Query reads the whole table, so it is kept small


def with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    import json

    return {**event, "body": json.dumps(body), "isBase64Encoded": False}


def ingest_latency(repeat: int) -> dict[str, dict[str, float]]:
    import ingest_handler
    from recsys.runtime.local_context import LocalLambdaContext

    context = LocalLambdaContext(function_name="bench-ingest")
    template = event_file("ingest_http_api_events.json")
    batch_template = event_file("ingest_http_api_event_batch.json")
    counter = iter(range(10**9))

    def one(item: str, seconds: int) -> dict[str, Any]:
        return {"eventType": "watch", "itemId": item, "sentAt": SENT_AT - seconds}

    def post(event: dict[str, Any], accepted: int) -> None:
        response = ingest_handler.handler(event, context)
        assert response["statusCode"] == 200 and f'"accepted":{accepted}' in response["body"], response

    def new_event() -> None:
        n = next(counter)
        post(with_body(template, {"userId": f"u{n % 500}", "sessionId": "s", "eventList": [one(str(n), n % 3600)]}), 1)

    resent = with_body(template, {"userId": "u0", "sessionId": "s", "eventList": [one("x", 1)]})
    post(resent, 1)

    def batch_of_100() -> None:
        n = next(counter)
        events = [{"userId": f"u{i % 10}", "sessionId": "s", **one(f"{n}-{i}", (n + i) % 3600)} for i in range(100)]
        post(with_body(batch_template, {"events": events}), 100)

    return {
        "POST /events, 1 new event": percentiles_ms(timed(new_event, repeat)),
        "POST /events, the same event again (duplicate)": percentiles_ms(timed(lambda: post(resent, 0), repeat)),
        "POST /events/batch, 100 new events of 10 users": percentiles_ms(timed(batch_of_100, max(50, repeat // 10))),
    }


def session_latency(repeat: int) -> dict[str, dict[str, float]]:
    import rerank_handler
    from recsys.events.event import UserEvent
    from recsys.events.session import get_session_reader
    from recsys.runtime.container import get_provider
    from recsys.runtime.local_context import LocalLambdaContext

    model = get_provider().get()
    rng = random.Random(11)
    users = rng.sample(list(model.arrays.users.ids), SESSION_USERS)
    sessions = {user: rng.sample(list(model.arrays.items.ids), SESSION_EVENTS) for user in users}
    reader = get_session_reader()
    assert reader is not None
    reader.table.put(
        [
            UserEvent(user, "s", item_id=item, event_type="watch", sent_at_ms=(SENT_AT - 60 * j) * 1000)
            for user, items in sessions.items()
            for j, item in enumerate(items)
        ]
    )
    assert reader.recent_items(users[0]) == sessions[users[0]]  # newest first, as stored
    context = LocalLambdaContext(function_name="bench-rerank")
    event = event_file("rerank_http_api_recommendations.json")

    def recommendations() -> Any:
        order = iter(users * (repeat // len(users) + 2))

        def call() -> None:
            response = rerank_handler.handler(for_user(event, next(order)), context)
            assert response["statusCode"] == 200, response

        return call

    read_order = iter(users * (repeat // len(users) + 2))
    results = {
        f"session read alone (one moto Query, {SESSION_EVENTS} events)": percentiles_ms(
            timed(lambda: reader.recent_items(next(read_order)), repeat)
        ),
        "GET /recommendations, session read from moto": percentiles_ms(timed(recommendations(), repeat)),
    }
    # the reader the rerank app's service is built with, per request (recsys.api.app.service_factory)
    instant = replace(reader, table=MemoryEventsTable(reader.table.name, reader.table.ttl_seconds, sessions))
    with mock.patch("recsys.api.app.get_session_reader", return_value=instant):
        results["GET /recommendations, session read from memory"] = percentiles_ms(timed(recommendations(), repeat))
    with mock.patch("recsys.api.app.get_session_reader", return_value=None):
        results["GET /recommendations, no session read (no table)"] = percentiles_ms(timed(recommendations(), repeat))
    return results


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo"
    repeat = int(os.environ.get("BENCH_REPEAT", "2000")) // 2
    os.environ.update(
        {
            "MODEL_DIR": str(model_dir),
            "EVENTS_TTL_DAYS": "3650",  # the events are dated by the event files, not by today
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    started = time.perf_counter()
    with mock_aws(), redirect_stdout(io.StringIO()):  # the handlers' EMF lines
        os.environ.update(create_event_store("bench-events", "recsys"))
        results = session_latency(repeat)  # first, while the table holds only the sessions
        results.update(ingest_latency(repeat))
    print("## Events and the session path (DynamoDB, Firehose and S3 in moto, in-process)\n")
    print(latency_table(f"{repeat} calls each (batch: {max(50, repeat // 10)})", results))
    ours = results["GET /recommendations, session read from memory"]
    moto = results["GET /recommendations, session read from moto"]
    without = results["GET /recommendations, no session read (no table)"]
    print(
        f"\nthe session path costs our code {ours['p50'] - without['p50']:.2f} ms at p50 and "
        f"{ours['p99'] - without['p99']:.2f} ms at p99 (p99 {ours['p99']:.2f} ms; budget 15 ms); with moto's "
        f"Query in the loop p99 is {moto['p99']:.2f} ms, the store's own latency being capped by "
        f"SESSION_READ_TIMEOUT_MS in AWS. ({time.perf_counter() - started:.0f}s)"
    )


if __name__ == "__main__":
    main()
