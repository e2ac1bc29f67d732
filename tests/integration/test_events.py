"""Event ingestion (POST /events, POST /events/batch) and the session path of GET /recommendations,
through the real handlers against moto's DynamoDB, Firehose and S3."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ingest_handler
import pytest
import rerank_handler
from recsys.errors import EventStoreUnavailableError
from recsys.events.log import EventLog
from recsys.events.table import UserEventsTable
from recsys.runtime.local_context import LocalLambdaContext
from recsys.runtime.telemetry import logger

from ..conftest import load_event
from .conftest import BUCKET, PREFIX, TABLE
from .test_serving_handlers import call, seen_ids, with_body, with_jwt, with_query, with_user

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def ingest_context() -> LocalLambdaContext:
    return LocalLambdaContext(function_name="IngestFunction", aws_request_id="ingest-test", remaining_millis=30_000)


def stored(dynamodb: DynamoDBClient) -> list[tuple[str, str, str]]:
    """(user_id, event_key, item_id) of every item in the table."""
    items = dynamodb.scan(TableName=TABLE)["Items"]
    return sorted((i["user_id"]["S"], i["event_key"]["S"], i["item_id"]["S"]) for i in items)


def log_lines(s3: S3Client) -> list[dict[str, Any]]:
    """Every line Firehose delivered, repeats included (the reader's de-duplication is not applied)."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/events/").get("Contents", [])
    bodies = [s3.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read() for entry in listed]
    return [json.loads(line) for body in bodies for line in body.splitlines() if line.strip()]


def post(event: dict[str, Any], context: LocalLambdaContext) -> tuple[int, dict[str, Any]]:
    return call(ingest_handler.handler, event, context)


def now_event(item_id: str, seconds_ago: float, event_type: str = "watch") -> dict[str, Any]:
    return {"eventType": event_type, "itemId": item_id, "sentAt": time.time() - seconds_ago}


def refusing(message: str) -> Callable[..., None]:
    """A stand-in for a store's `put` that fails as it does after its retries."""

    def refused(*args: Any) -> None:
        raise EventStoreUnavailableError(message)

    return refused


# ---------------------------------------------------------------- ingestion


def test_put_events_stores_each_event_in_the_table_and_the_log(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext
) -> None:
    status, body = post(load_event("ingest_http_api_events.json"), ingest_context)
    assert (status, body) == (200, {"accepted": 2, "duplicates": 0})
    # sentAt as epoch seconds and as ISO 8601 both land as epoch milliseconds in the key
    assert stored(event_store) == [
        ("185", "1795434600000#watch#1300854", "1300854"),
        ("185", "1795435200000#watch#1408101", "1408101"),
    ]
    lines = log_lines(s3)
    assert [(line["user_id"], line["item_id"], line["timestamp"]) for line in lines] == [
        ("185", "1300854", 1795434600),
        ("185", "1408101", 1795435200),
    ]
    assert lines[0]["event_id"] == "e-1" and lines[0]["session_id"] == "session-185-1"
    assert lines[1]["event_value"] == 8.0 and json.loads(lines[1]["properties"]) == {"device": "tv"}


def test_the_batch_form_and_a_direct_invoke_store_the_same_way(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext
) -> None:
    status, body = post(load_event("ingest_http_api_event_batch.json"), ingest_context)
    assert (status, body) == (200, {"accepted": 2, "duplicates": 0})
    assert ingest_handler.handler(load_event("ingest_direct.json"), ingest_context) == {"accepted": 2, "duplicates": 0}
    assert sorted((user, item) for user, _, item in stored(event_store)) == [
        ("185", "0770828"),
        ("185", "1300854"),
        ("185", "1408101"),
        ("new-visitor-7", "1300854"),
    ]
    assert len(log_lines(s3)) == 4


def test_a_redelivered_request_is_stored_once_in_the_table_and_in_the_log(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext
) -> None:
    event = load_event("ingest_http_api_events.json")
    assert post(event, ingest_context) == (200, {"accepted": 2, "duplicates": 0})
    assert post(event, ingest_context) == (200, {"accepted": 0, "duplicates": 2})
    # the same events in the other form, and repeated within one request
    body = json.loads(event["body"])
    repeated = {"events": [{"userId": "185", "sessionId": "other", **e} for e in body["eventList"] * 2]}
    assert post(with_body(load_event("ingest_http_api_event_batch.json"), repeated), ingest_context) == (
        200,
        {"accepted": 0, "duplicates": 4},
    )
    assert len(stored(event_store)) == 2
    assert len(log_lines(s3)) == 2


def test_repeats_within_one_request_count_once(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext
) -> None:
    events = [now_event("1300854", 5), now_event("1300854", 5), now_event("1300854", 5, "click")]
    events[1]["sentAt"] = events[0]["sentAt"]
    body = {"userId": "u-9", "sessionId": "s", "eventList": events}
    status, answer = post(with_body(load_event("ingest_http_api_events.json"), body), ingest_context)
    assert (status, answer) == (200, {"accepted": 2, "duplicates": 1})  # a click is another event than a watch
    assert len(stored(event_store)) == 2 and len(log_lines(s3)) == 2


def test_a_failed_log_write_stores_nothing_and_the_retry_stores_everything_once(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = load_event("ingest_http_api_events.json")
    real_put = EventLog.put
    monkeypatch.setattr(EventLog, "put", refusing("events the event log refused: 2; retry"))
    status, body = post(event, ingest_context)
    assert status == 503 and body["error"]["code"] == "event_store_unavailable"
    assert stored(event_store) == [] and log_lines(s3) == []  # nothing half-done
    monkeypatch.setattr(EventLog, "put", real_put)
    assert post(event, ingest_context) == (200, {"accepted": 2, "duplicates": 0})
    assert len(stored(event_store)) == 2 and len(log_lines(s3)) == 2


def test_firehose_records_it_refuses_are_sent_again(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsys import aws

    client = aws.firehose()
    real = client.put_record_batch
    calls: list[int] = []

    def first_record_refused_once(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Records"]))
        if len(calls) == 1:  # Firehose's partial failure: the call succeeds, one record does not
            real(DeliveryStreamName=kwargs["DeliveryStreamName"], Records=kwargs["Records"][1:])
            return {
                "FailedPutCount": 1,
                "RequestResponses": [{"ErrorCode": "ServiceUnavailableException"}, {"RecordId": "r"}],
            }
        return real(**kwargs)

    monkeypatch.setattr(client, "put_record_batch", first_record_refused_once)
    assert post(load_event("ingest_http_api_events.json"), ingest_context) == (200, {"accepted": 2, "duplicates": 0})
    assert calls == [2, 1]
    assert sorted(line["item_id"] for line in log_lines(s3)) == ["1300854", "1408101"]


def test_a_failed_table_write_logs_again_on_retry_and_the_reader_keeps_each_event_once(
    event_store: DynamoDBClient,
    s3: S3Client,
    ingest_context: LocalLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    event = load_event("ingest_http_api_events.json")
    real_put = UserEventsTable.put
    monkeypatch.setattr(UserEventsTable, "put", refusing("writes the event table left unprocessed: 2; retry"))
    assert post(event, ingest_context)[0] == 503
    monkeypatch.setattr(UserEventsTable, "put", real_put)
    assert post(event, ingest_context) == (200, {"accepted": 2, "duplicates": 0})
    assert len(stored(event_store)) == 2
    assert len(log_lines(s3)) == 4  # at least once: the first attempt's lines reached the log
    from recsys import aws
    from recsys.retrain.dataset import download_inputs
    from recsys.retrain.inputs import gather
    from recsys.store.s3 import S3ModelStore

    aws.reset()
    store = S3ModelStore(BUCKET, PREFIX)  # the next training reads the log as the retraining's train step does
    log = download_inputs(store, gather(store, "after-retry"), tmp_path).events
    assert log[["user_id", "item_id", "timestamp"]].values.tolist() == [
        ["185", "1300854", 1795434600],
        ["185", "1408101", 1795435200],
    ]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"userId": "has space"}, 422, "event 0: userId must be 1-128 characters"),
        ({"sessionId": "x" * 129}, 422, "event 0: sessionId must be 1-128 characters"),
        ({"eventList": [{"eventType": "watch", "itemId": "a/b", "sentAt": 1795435200}]}, 422, "event 0: itemId"),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 4102444800}]}, 422, "s in the future"),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 0}]}, 422, "days old; the events table keeps"),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": -5e10}]}, 422, "days old"),
        (
            {"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 1795435200, "impression": ["2", "a b"]}]},
            422,
            "event 0: impression must be 1-128 characters",
        ),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": "2026-11-23T12:00:00"}]}, 422, "sentAt"),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 1, "properties": "[1]"}]}, 422, "JSON object"),
        (
            {"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 1, "eventValue": float("nan")}]},
            422,
            "finite",
        ),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 1, "eventValue": True}]}, 422, "number"),
        ({"eventList": [{"eventType": "has space", "itemId": "1", "sentAt": 1}]}, 422, "eventType"),
        (
            {"eventList": [{"eventType": "w", "itemId": "1", "sentAt": 1, "properties": {"note": "x" * 1100}}]},
            422,
            "at most 1024 characters of JSON",
        ),
        ({"eventList": []}, 422, "eventList"),
        ({"eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 1}] * 11}, 422, "eventList"),
        ({"extra": 1}, 422, "extra"),
    ],
)
def test_bad_events_are_refused_with_a_message_and_nothing_is_stored(
    event_store: DynamoDBClient,
    s3: S3Client,
    ingest_context: LocalLambdaContext,
    change: dict[str, Any],
    status: int,
    message: str,
) -> None:
    event = load_event("ingest_http_api_events.json")
    body = {**json.loads(event["body"]), **change}
    got, answer = post(with_body(event, body), ingest_context)
    assert got == status
    assert answer["error"]["code"] == "invalid_request" and message in answer["error"]["message"]
    assert stored(event_store) == [] and log_lines(s3) == []


def test_a_batch_over_the_limit_is_refused_with_413(
    event_store: DynamoDBClient, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BATCH_EVENTS", "3")
    one = {"userId": "u1", "sessionId": "s", "eventType": "watch", "itemId": "1", "sentAt": 1795435200}
    event = with_body(load_event("ingest_http_api_event_batch.json"), {"events": [one] * 4})
    status, body = post(event, ingest_context)
    assert status == 413 and body["error"] == {
        "code": "too_large",
        "message": "events has 4 events; at most 3 are accepted",
    }
    assert stored(event_store) == []


def test_a_form_encoded_body_is_told_to_send_json(
    event_store: DynamoDBClient, ingest_context: LocalLambdaContext
) -> None:
    event = load_event("ingest_http_api_events.json")
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    status, body = post(event, ingest_context)
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


def test_a_jwt_caller_sends_only_its_own_users_events(
    event_store: DynamoDBClient, ingest_context: LocalLambdaContext
) -> None:
    single, batch = load_event("ingest_http_api_events.json"), load_event("ingest_http_api_event_batch.json")
    assert post(with_jwt(single, {"sub": "10728"}), ingest_context)[0] == 403
    assert post(with_jwt(single, {"sub": "185"}), ingest_context)[0] == 200
    # the batch names two users: a token of either one alone is refused, wherever its user stands in the batch
    users = [entry["userId"] for entry in json.loads(batch["body"])["events"]]
    assert len(set(users)) == 2
    for user in users:
        assert post(with_jwt(batch, {"sub": user}), ingest_context)[0] == 403
    assert post(with_jwt(batch, {"sub": "svc"}, ["recsys/admin"]), ingest_context)[0] == 200
    assert {user for user, _, _ in stored(event_store)} == {"185", "new-visitor-7"}


def test_ingestion_without_a_table_or_stream_says_so(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, ingest_context: LocalLambdaContext
) -> None:
    monkeypatch.delenv("USER_EVENTS_TABLE", raising=False)
    monkeypatch.delenv("EVENTS_STREAM", raising=False)
    status, body = post(load_event("ingest_http_api_events.json"), ingest_context)
    assert status == 503
    assert body["error"] == {
        "code": "event_store_unavailable",
        "message": "event ingestion is not configured: set USER_EVENTS_TABLE and EVENTS_STREAM",
    }


# ---------------------------------------------------------------- the session path of GET /recommendations


def recommend(context: LocalLambdaContext, user_id: str, **query: str) -> dict[str, Any]:
    event = with_query(with_user(load_event("rerank_http_api_recommendations.json"), user_id), k="10", **query)
    status, body = call(rerank_handler.handler, event, context)
    assert status == 200, body
    return body


def items_and_scores(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(item["item_id"], item["score"]) for item in body["items"]]


def send(context: LocalLambdaContext, user_id: str, items: list[str]) -> None:
    """The user consumed these items just now, in this order (the last one most recently)."""
    events = [now_event(item, seconds_ago=60 - i) for i, item in enumerate(items)]
    body = {"userId": user_id, "sessionId": "s", "eventList": events}
    assert post(with_body(load_event("ingest_http_api_events.json"), body), context)[0] == 200


def test_just_consumed_items_are_excluded_and_seed_the_recommendations(
    published_demo: str, event_store: DynamoDBClient, lambda_context: LocalLambdaContext
) -> None:
    before = recommend(lambda_context, "185")
    consumed = [item["item_id"] for item in before["items"][:3]]
    send(lambda_context, "185", consumed)
    after = recommend(lambda_context, "185")
    assert not {item["item_id"] for item in after["items"]} & set(consumed)
    assert after["fallback"] is None
    # the same as the caller passing those items itself, as recent items (seeds) and exclusions
    event_store.delete_table(TableName=TABLE)
    by_request = recommend(lambda_context, "185", recent_items=",".join(consumed), exclude=",".join(consumed))
    assert items_and_scores(after) == items_and_scores(by_request)
    assert items_and_scores(after) != items_and_scores(recommend(lambda_context, "185", exclude=",".join(consumed)))


def test_a_user_the_model_has_never_seen_gets_session_recommendations(
    published_demo: str, event_store: DynamoDBClient, lambda_context: LocalLambdaContext
) -> None:
    bare = recommend(lambda_context, "new-visitor-1")
    assert bare["fallback"] == "popularity"
    watched = ["1300854", "1408101"]
    send(lambda_context, "new-visitor-1", watched)
    session = recommend(lambda_context, "new-visitor-1")
    assert session["fallback"] == "session"
    assert items_and_scores(session) != items_and_scores(bare)
    assert not {item["item_id"] for item in session["items"]} & set(watched)
    assert "covisit" in {item["reason"] for item in session["items"]}
    event_store.delete_table(TableName=TABLE)
    by_request = recommend(lambda_context, "new-visitor-1", recent_items=",".join(watched), exclude=",".join(watched))
    assert items_and_scores(session) == items_and_scores(by_request)


def test_recent_items_of_the_request_merge_with_the_tables(
    published_demo: str, event_store: DynamoDBClient, lambda_context: LocalLambdaContext
) -> None:
    send(lambda_context, "new-visitor-2", ["1300854"])
    merged = recommend(lambda_context, "new-visitor-2", recent_items="1408101")
    event_store.delete_table(TableName=TABLE)
    by_request = recommend(lambda_context, "new-visitor-2", recent_items="1300854,1408101", exclude="1300854")
    assert items_and_scores(merged) == items_and_scores(by_request)
    assert items_and_scores(merged) != items_and_scores(recommend(lambda_context, "new-visitor-2", exclude="1300854"))


def test_exclude_seen_false_keeps_consumed_items_eligible(
    published_demo: str, event_store: DynamoDBClient, lambda_context: LocalLambdaContext
) -> None:
    first = recommend(lambda_context, "185", exclude_seen="false")["items"][0]["item_id"]
    send(lambda_context, "185", [first])
    assert first in {item["item_id"] for item in recommend(lambda_context, "185", exclude_seen="false")["items"]}
    assert first not in {item["item_id"] for item in recommend(lambda_context, "185")["items"]}
    assert first not in seen_ids("185")  # it was consumed in the session, not in the model's history


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_a_failing_session_read_is_skipped_with_its_reason_logged(
    published_demo: str, event_store: DynamoDBClient, lambda_context: LocalLambdaContext, log_output: io.StringIO
) -> None:
    from_the_model_alone = recommend(lambda_context, "185")
    send(lambda_context, "185", [from_the_model_alone["items"][0]["item_id"]])
    event_store.delete_table(TableName=TABLE)
    assert items_and_scores(recommend(lambda_context, "185")) == items_and_scores(from_the_model_alone)
    skipped = [json.loads(line) for line in log_output.getvalue().splitlines() if "session read skipped" in line]
    assert skipped and "ResourceNotFoundException" in skipped[0]["reason"]


def test_the_session_read_has_one_attempt_and_the_configured_time_budget(
    published_demo: str, event_store: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsys.events.session import get_session_reader

    monkeypatch.setenv("SESSION_READ_TIMEOUT_MS", "35")
    monkeypatch.setenv("SESSION_EVENTS", "7")
    reader = get_session_reader()
    assert reader is not None and (reader.timeout_seconds, reader.events) == (0.035, 7)
    from recsys import aws

    config = aws.dynamodb(reader.timeout_seconds).meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.035, 0.035)
    assert config.retries is not None and config.retries["total_max_attempts"] == 1
    assert aws.dynamodb().meta.config.read_timeout == 30  # the ingest path keeps the patient client


def test_ids_too_long_for_the_tables_key_in_utf8_are_refused(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_ID_LENGTH", "1024")
    item = "é" * 510  # 510 characters, allowed; 1,020 bytes, which with the time and type pass 1,024
    body = {"userId": "185", "sessionId": "s", "eventList": [now_event(item, 1)]}
    status, answer = post(with_body(load_event("ingest_http_api_events.json"), body), ingest_context)
    assert status == 422 and "too long for the events table's key" in answer["error"]["message"]
    assert stored(event_store) == [] and log_lines(s3) == []
    body["eventList"] = [now_event("é" * 400, 1)]  # 800 bytes: fits
    assert post(with_body(load_event("ingest_http_api_events.json"), body), ingest_context)[0] == 200
    assert [row[2] for row in stored(event_store)] == ["é" * 400]


def test_an_aws_error_answers_503_and_stores_nothing(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext
) -> None:
    event_store.delete_table(TableName=TABLE)  # BatchGetItem: ResourceNotFoundException (a ClientError)
    status, body = post(load_event("ingest_http_api_events.json"), ingest_context)
    assert (status, body["error"]) == (
        503,
        {"code": "event_store_unavailable", "message": "the event store is unavailable; retry the request"},
    )
    assert log_lines(s3) == []


def test_writes_the_table_leaves_unprocessed_are_retried_until_stored(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsys import aws

    client = aws.dynamodb()
    real = client.batch_write_item
    sizes: list[int] = []

    def throttled_half(**kwargs: Any) -> Any:
        requests = kwargs["RequestItems"][TABLE]
        sizes.append(len(requests))
        if len(sizes) == 1:  # DynamoDB under throttling: the call succeeds for some items only
            real(RequestItems={TABLE: requests[: len(requests) // 2]})
            return {"UnprocessedItems": {TABLE: requests[len(requests) // 2 :]}}
        return real(**kwargs)

    monkeypatch.setattr(client, "batch_write_item", throttled_half)
    events = [now_event(f"item-{i}", i) for i in range(10)]
    body = {"events": [{"userId": f"u{i % 3}", "sessionId": "s", **e} for i, e in enumerate(events)]}
    assert post(with_body(load_event("ingest_http_api_event_batch.json"), body), ingest_context) == (
        200,
        {"accepted": 10, "duplicates": 0},
    )
    assert sizes == [10, 5]
    assert sorted(row[2] for row in stored(event_store)) == sorted(f"item-{i}" for i in range(10))


def test_the_session_read_gives_up_at_its_deadline_even_when_bytes_keep_trickling(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, log_output: io.StringIO
) -> None:
    """botocore's read timeout restarts at every byte; a server sending one every 20 ms never trips a
    50 ms one. The reader must answer (empty) while the server is still sending."""
    import socket
    import threading

    from recsys import aws
    from recsys.events.session import SessionReader

    listener = socket.create_server(("127.0.0.1", 0))
    finished = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n")
            connection.sendall(b"Content-Length: 100\r\n\r\n")
            for _ in range(100):
                time.sleep(0.02)
                connection.sendall(b" ")
        finished.set()

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    aws.reset()
    reader = SessionReader(UserEventsTable("slow-table", 86_400), events=50, timeout_seconds=0.05)
    assert reader.recent_items("185") == []
    assert not finished.is_set()  # answered while the server was still sending
    skipped = [json.loads(line) for line in log_output.getvalue().splitlines() if "session read skipped" in line]
    assert [entry["reason"] for entry in skipped] == ["no answer within 50 ms"]
    server.join()
    listener.close()


def test_a_session_client_that_cannot_be_built_is_a_skipped_read(
    monkeypatch: pytest.MonkeyPatch, log_output: io.StringIO
) -> None:
    from botocore.exceptions import NoRegionError
    from recsys import aws
    from recsys.events.session import SessionReader

    def no_region(timeout_seconds: float | None = None) -> Any:
        raise NoRegionError()

    monkeypatch.setattr(aws, "dynamodb", no_region)
    reader = SessionReader(UserEventsTable("any", 86_400), events=50, timeout_seconds=0.05)
    assert reader.recent_items("185") == []
    skipped = [json.loads(line) for line in log_output.getvalue().splitlines() if "session read skipped" in line]
    assert [entry["reason"] for entry in skipped] == ["NoRegionError: You must specify a region."]


def test_a_redelivery_check_reads_consistently(
    event_store: DynamoDBClient, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An eventually consistent read right after a write may miss it, and the retry would log the event twice."""
    from recsys import aws

    client = aws.dynamodb()
    real = client.batch_get_item
    requests: list[dict[str, Any]] = []

    def recorded(**kwargs: Any) -> Any:
        requests.append(kwargs["RequestItems"][TABLE])
        return real(**kwargs)

    monkeypatch.setattr(client, "batch_get_item", recorded)
    assert post(load_event("ingest_http_api_events.json"), ingest_context)[0] == 200
    assert requests and all(request["ConsistentRead"] is True for request in requests)


def test_a_log_that_keeps_refusing_answers_503_and_nothing_is_stored(
    event_store: DynamoDBClient, s3: S3Client, ingest_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsys import aws
    from recsys.events import log

    client = aws.firehose()
    calls: list[int] = []

    def refused(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Records"]))
        records = kwargs["Records"]
        return {"FailedPutCount": len(records), "RequestResponses": [{"ErrorCode": "Throttled"} for _ in records]}

    monkeypatch.setattr(client, "put_record_batch", refused)
    status, body = post(load_event("ingest_http_api_events.json"), ingest_context)
    assert (status, body["error"]["message"]) == (503, "events the event log refused: 2; retry")
    assert calls == [2] * log.ATTEMPTS
    assert stored(event_store) == [] and log_lines(s3) == []


def test_the_session_read_takes_the_newest_events_and_skips_expired_ones(event_store: DynamoDBClient) -> None:
    from recsys.events.event import UserEvent
    from recsys.events.session import SessionReader

    now_ms = int(time.time() * 1000)
    minute = 60_000

    def watched(item: str, minutes_ago: int) -> UserEvent:
        return UserEvent("185", "s", item_id=item, event_type="watch", sent_at_ms=now_ms - minutes_ago * minute)

    table = UserEventsTable(TABLE, ttl_seconds=3600)  # an hour: events older than that have expired
    table.put([watched(f"i{n}", n) for n in range(1, 6)] + [watched("old", 90)])
    assert SessionReader(table, events=3, timeout_seconds=1.0).recent_items("185") == ["i1", "i2", "i3"]
    assert SessionReader(table, events=50, timeout_seconds=1.0).recent_items("185") == ["i1", "i2", "i3", "i4", "i5"]


def test_a_container_s_first_session_read_does_not_spend_its_deadline_building_the_client(
    event_store: DynamoDBClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading botocore's DynamoDB model takes longer than a 50 ms deadline on a cold container; that is
    cold-start work, so the first read must still get its whole budget."""
    from recsys import aws
    from recsys.events.event import UserEvent
    from recsys.events.session import SessionReader

    table = UserEventsTable(TABLE, ttl_seconds=3600)
    table.put([UserEvent("185", "s", item_id="1300854", event_type="watch", sent_at_ms=int(time.time() * 1000))])
    real, built = aws.dynamodb, set()

    def slow_to_build(timeout_seconds: float | None = None) -> Any:
        if timeout_seconds not in built:
            built.add(timeout_seconds)
            time.sleep(0.2)  # what a cold botocore spends on its service model
        return real(timeout_seconds)

    monkeypatch.setattr(aws, "dynamodb", slow_to_build)
    assert SessionReader(table, events=50, timeout_seconds=0.05).recent_items("185") == ["1300854"]
