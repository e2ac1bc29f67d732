"""Write tests/events/: one event per entry point, shaped exactly as API Gateway, S3 and a direct invoke send them.

Run once (`python infra/scripts/make_events.py`); the JSON files are committed and used by
pytest, `make invoke` and `sam local invoke -e`. Kept as a script so a reader sees how each
shape is built, and a new route gets its events the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

EVENTS = Path(__file__).resolve().parents[2] / "tests" / "events"
ACCOUNT, API_ID, STAGE = "123456789012", "a1b2c3d4e5", "$default"
SENT_AT = 1795435200  # 2026-11-23T12:00:00Z, in epoch seconds
EPOCH_MS, REQUEST_TIME = SENT_AT * 1000, "23/Nov/2026:12:00:00 +0000"


def http_api_v2(
    method: str, path: str, route: str, params: dict[str, str], query: dict[str, str], body: Any = None
) -> dict[str, Any]:
    """API Gateway HTTP API, payload format 2.0."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "headers": {
            "accept": "application/json",
            "content-type": "application/json",
            "host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "198.51.100.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "authorizer": {
                "iam": {
                    "accessKey": "AKIAEXAMPLE",
                    "accountId": ACCOUNT,
                    "callerId": "AIDAEXAMPLE",
                    "principalOrgId": None,
                    "userArn": f"arn:aws:iam::{ACCOUNT}:user/ml-engineer",
                    "userId": "AIDAEXAMPLE",
                }
            },
            "domainName": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {route}",
            "stage": STAGE,
            "time": REQUEST_TIME,
            "timeEpoch": EPOCH_MS,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def rest_api_v1(
    method: str, path: str, resource: str, params: dict[str, str], query: dict[str, str], body: Any = None
) -> dict[str, Any]:
    """API Gateway REST API (and HTTP API payload 1.0) proxy integration."""
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Host": f"{API_ID}.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "httpMethod": method,
            "identity": {
                "sourceIp": "198.51.100.7",
                "userAgent": "curl/8.5.0",
                "userArn": None,
                "user": None,
                "accountId": None,
                "caller": None,
                "accessKey": None,
                "cognitoIdentityPoolId": None,
            },
            "path": f"/Prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": REQUEST_TIME,
            "requestTimeEpoch": EPOCH_MS,
            "resourceId": "123456",
            "resourcePath": resource,
            "stage": "Prod",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def s3_put(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-23T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "198.51.100.7"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "BatchInput",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"},
                },
            }
        ]
    }


def main() -> None:
    EVENTS.mkdir(parents=True, exist_ok=True)
    user, items = "185", ["0770828", "1300854", "1408101", "0770828", "no-such-item"]
    # Personalize PutEvents' shape: sentAt in epoch seconds or ISO 8601; properties a JSON string
    put_events = {
        "trackingId": "recsys-demo",
        "userId": user,
        "sessionId": "session-185-1",
        "eventList": [
            {"eventType": "watch", "itemId": "1300854", "sentAt": SENT_AT - 600, "eventId": "e-1"},
            {
                "eventType": "watch",
                "itemId": "1408101",
                "sentAt": "2026-11-23T12:00:00Z",
                "eventValue": 8.0,
                "properties": '{"device": "tv"}',
            },
        ],
    }
    batch_events = [
        {"userId": "new-visitor-7", "sessionId": "s-7", "eventType": "watch", "itemId": "1300854", "sentAt": SENT_AT},
        {"userId": "185", "sessionId": "session-185-2", "eventType": "click", "itemId": "0770828", "sentAt": SENT_AT},
    ]
    events = {
        "rerank_http_api_recommendations.json": http_api_v2(
            "GET",
            f"/recommendations/{user}",
            "/recommendations/{user_id}",
            {"user_id": user},
            {"k": "10", "exclude_seen": "true"},
        ),
        "rerank_http_api_rerank.json": http_api_v2(
            "POST", "/rerank", "/rerank", {}, {}, {"user_id": user, "item_ids": items, "k": 5}
        ),
        "rerank_rest_api_recommendations.json": rest_api_v1(
            "GET", f"/recommendations/{user}", "/recommendations/{user_id}", {"user_id": user}, {"k": "10"}
        ),
        "rerank_direct.json": {"user_id": user, "k": 10},
        "candidates_http_api.json": http_api_v2(
            "POST", "/candidates", "/candidates", {}, {}, {"user_id": user, "k": 20, "recent_items": ["1300854"]}
        ),
        "candidates_http_api_similar.json": http_api_v2(
            "GET", "/items/1300854/similar", "/items/{item_id}/similar", {"item_id": "1300854"}, {"k": "10"}
        ),
        "candidates_rest_api.json": rest_api_v1(
            "POST", "/candidates", "/candidates", {}, {}, {"user_id": user, "k": 20}
        ),
        "candidates_direct.json": {"action": "candidates", "user_id": user, "k": 20},
        "ingest_http_api_events.json": http_api_v2("POST", "/events", "/events", {}, {}, put_events),
        "ingest_http_api_event_batch.json": http_api_v2(
            "POST", "/events/batch", "/events/batch", {}, {}, {"events": batch_events}
        ),
        "ingest_direct.json": {"action": "put_events", **put_events},
        "batch_s3_put.json": s3_put(
            "recsys-batch-123456789012",
            "input/weekly+users%282026-11%29.jsonl",
            2048,
            "0123456789abcdef0123456789abcdef",
        ),
        "batch_s3_test_event.json": {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-23T12:00:00.000Z",
            "Bucket": "recsys-batch-123456789012",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        },
    }
    for name, event in events.items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
        print(f"wrote tests/events/{name}")


if __name__ == "__main__":
    main()
