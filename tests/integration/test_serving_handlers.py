"""Every route through the real Lambda handlers (Mangum + FastAPI), with each event shape."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import candidates_handler
import numpy as np
import pytest
import rerank_handler
from recsys import artifacts as A
from recsys.loaded import LoadedModel
from recsys.ranking.scorers import LightGBMScorer
from recsys.runtime.container import get_provider
from recsys.runtime.local_context import LocalLambdaContext
from recsys.runtime.telemetry import logger
from recsys.store.provider import S3Source

from ..conftest import load_event

SOURCES = {"als", "covisit", "popularity", "chart_1d", "chart_3d", "chart_7d", "chart_30d"}
#: what can propose items for a user the model has no history of: no factors, no co-visitation seeds
NON_PERSONAL = SOURCES - {"als", "covisit"}


def call(handler: Any, event: dict[str, Any], context: LocalLambdaContext) -> tuple[int, dict[str, Any]]:
    """Invoke a handler; returns (status, JSON body) for HTTP events and (200 or status, body) for direct ones."""
    response = handler(event, context)
    if "statusCode" in response:
        assert response["headers"]["content-type"] == "application/json"
        return response["statusCode"], json.loads(response["body"])
    return (response["status"] if "error" in response else 200), response


def with_query(event: dict[str, Any], **query: str) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def with_user(event: dict[str, Any], user_id: str) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/recommendations/{user_id}"
    event["pathParameters"] = {"user_id": user_id}
    return event


def with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["body"] = json.dumps(body)
    return event


def assert_ranked(body: dict[str, Any], k: int, version: str) -> None:
    assert body["model_version"] == version
    items = body["items"]
    assert len(items) == k
    assert [i["rank"] for i in items] == list(range(1, k + 1))
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert len({i["item_id"] for i in items}) == k


def model() -> LoadedModel:
    return get_provider().get()


def seen_ids(user_id: str) -> set[str]:
    """The items the served model says this user has already interacted with."""
    arrays = model().arrays
    return set(arrays.items.to_ids(arrays.seen.take_rows(np.array([arrays.users.get(user_id)])).values))


@pytest.mark.parametrize("event_name", ["rerank_http_api_recommendations.json", "rerank_rest_api_recommendations.json"])
def test_recommendations_over_both_api_gateway_payloads(
    published_demo: str, lambda_context: LocalLambdaContext, event_name: str
) -> None:
    status, body = call(rerank_handler.handler, load_event(event_name), lambda_context)
    assert status == 200
    assert_ranked(body, 10, published_demo)
    assert body["fallback"] is None
    assert {i["reason"] for i in body["items"]} <= SOURCES
    assert not seen_ids("185") & {i["item_id"] for i in body["items"]}


def test_direct_invoke_returns_the_same_body_as_http(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    _, http_body = call(rerank_handler.handler, load_event("rerank_http_api_recommendations.json"), lambda_context)
    status, direct_body = call(rerank_handler.handler, load_event("rerank_direct.json"), lambda_context)
    assert status == 200
    assert direct_body == http_body


def test_unknown_user_gets_the_labelled_popularity_fallback(
    published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    event = with_user(load_event("rerank_http_api_recommendations.json"), "new-user-0001")
    status, body = call(rerank_handler.handler, event, lambda_context)
    assert status == 200
    assert body["fallback"] == "popularity"
    assert_ranked(body, 10, published_demo)
    assert {i["reason"] for i in body["items"]} <= NON_PERSONAL


def test_filters_apply_before_top_k(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    base = load_event("rerank_http_api_recommendations.json")
    _, plain = call(rerank_handler.handler, base, lambda_context)
    excluded = [i["item_id"] for i in plain["items"][:3]]
    _, body = call(rerank_handler.handler, with_query(base, k="10", exclude=",".join(excluded)), lambda_context)
    assert_ranked(body, 10, published_demo)
    assert not set(excluded) & {i["item_id"] for i in body["items"]}

    _, horror = call(rerank_handler.handler, with_query(base, k="25", genre="Horror"), lambda_context)
    assert_ranked(horror, 25, published_demo)
    loaded = model()
    tables = loaded.arrays.feature_tables()
    column = tables.tag_names.index("genres=Horror")
    indices = loaded.arrays.items.lookup([i["item_id"] for i in horror["items"]])
    assert (tables.item_tags[indices, column] == 1).all()

    _, with_seen = call(rerank_handler.handler, with_query(base, k="100", exclude_seen="false"), lambda_context)
    assert seen_ids("185") & {i["item_id"] for i in with_seen["items"]}


def test_rerank_collapses_duplicates_and_puts_unknown_items_last(
    published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    status, body = call(rerank_handler.handler, load_event("rerank_http_api_rerank.json"), lambda_context)
    assert status == 200
    ids = [i["item_id"] for i in body["items"]]
    assert ids.count("0770828") == 1
    assert ids[-1] == "no-such-item"
    assert body["items"][-1]["score"] is None
    assert body["unknown_items"] == ["no-such-item"]
    known_scores = [i["score"] for i in body["items"][:-1]]
    assert known_scores == sorted(known_scores, reverse=True)
    assert len(ids) == 4


@pytest.mark.parametrize(
    "event_name", ["candidates_http_api.json", "candidates_rest_api.json", "candidates_direct.json"]
)
def test_candidates_keep_every_source_score(
    published_demo: str, lambda_context: LocalLambdaContext, event_name: str
) -> None:
    status, body = call(candidates_handler.handler, load_event(event_name), lambda_context)
    assert status == 200
    assert_ranked(body, 20, published_demo)
    for item in body["items"]:
        assert set(item["sources"]) == SOURCES
        ranked_by = {name for name, s in item["sources"].items() if s["rank"] is not None}
        assert item["reason"] in ranked_by


def test_candidates_for_a_new_user_use_recent_items(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    event = with_body(
        load_event("candidates_http_api.json"), {"user_id": "brand-new", "k": 50, "recent_items": ["1300854"]}
    )
    _, body = call(candidates_handler.handler, event, lambda_context)
    assert body["fallback"] == "popularity"
    assert "covisit" in {i["reason"] for i in body["items"]}


def test_similar_items(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    status, body = call(candidates_handler.handler, load_event("candidates_http_api_similar.json"), lambda_context)
    assert status == 200
    assert len(body["items"]) == 10
    assert "1300854" not in {i["item_id"] for i in body["items"]}
    event = load_event("candidates_http_api_similar.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/items/0000000/similar"
    status, body = call(candidates_handler.handler, event, lambda_context)
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_health_and_model(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    event = load_event("rerank_http_api_recommendations.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/model"
    status, body = call(rerank_handler.handler, event, lambda_context)
    assert status == 200
    assert body["model_version"] == published_demo
    assert body["metrics"]["two_stage"]["ndcg@10"] > 0
    assert set(body["sources"]) == SOURCES
    # the candidates function loads its own, stage-1-only model on first use (a separate container on Lambda)
    status, body = call(candidates_handler.handler, {"action": "health"}, lambda_context)
    assert (status, body) == (200, {"status": "ok", "model_version": None})
    status, body = call(candidates_handler.handler, {"action": "model"}, lambda_context)
    assert (status, body["model_version"]) == (200, published_demo)
    status, body = call(candidates_handler.handler, {"action": "health"}, lambda_context)
    assert body == {"status": "ok", "model_version": published_demo}
    loaded = get_provider(with_ranker=False).get()
    assert loaded.arrays.features is None  # no feature tables, no ranker in the candidates function
    assert not isinstance(loaded.recommender.scorer, LightGBMScorer)


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ({"k": "0"}, 422, "k must be between 1 and 100"),
        ({"k": "101"}, 422, "k must be between 1 and 100"),
        ({"k": "ten"}, 422, "k: Input should be a valid integer"),
        ({"genre": "Nonexistent"}, 422, "unknown genre"),
        ({"exclude": ",".join(["x"] * 501)}, 413, "at most 500"),
        ({"exclude_seen": "perhaps"}, 422, "exclude_seen"),
    ],
)
def test_bad_queries_get_4xx_json(
    published_demo: str, lambda_context: LocalLambdaContext, query: dict[str, str], status: int, fragment: str
) -> None:
    event = with_query(load_event("rerank_http_api_recommendations.json"), **query)
    got_status, body = call(rerank_handler.handler, event, lambda_context)
    assert got_status == status
    assert fragment in body["error"]["message"]
    assert set(body) == {"error"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 422),
        ({"user_id": "185", "item_ids": ["a"] * 501}, 413),
        ({"user_id": "185", "item_ids": []}, 422),
        ({"user_id": "bad id with spaces", "item_ids": ["a"]}, 422),
        ({"user_id": "x" * 129, "item_ids": ["a"]}, 422),
        ({"user_id": "185", "item_ids": ["a"], "surprise": 1}, 422),
        ({"item_ids": ["a"]}, 422),
        ({"user_id": "185", "item_ids": ["a"], "k": True}, 422),  # not 1
        ({"user_id": "185\n", "item_ids": ["a"]}, 422),  # an id ends where the string ends
    ],
)
def test_bad_bodies_get_4xx_json(
    published_demo: str, lambda_context: LocalLambdaContext, body: Any, status: int
) -> None:
    event = load_event("rerank_http_api_rerank.json")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    got_status, answer = call(rerank_handler.handler, event, lambda_context)
    assert got_status == status
    assert answer["error"]["code"] in {"invalid_request", "too_large"}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_a_json_body_sent_without_the_json_content_type_gets_415_saying_so(
    published_demo: str, lambda_context: LocalLambdaContext, content_type: str | None
) -> None:
    """What `curl -d '{...}'` sends: a JSON body under a form content type (or none)."""
    event = load_event("rerank_http_api_rerank.json")
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    if content_type:
        event["headers"]["content-type"] = content_type
    status, answer = call(rerank_handler.handler, event, lambda_context)
    assert status == 415
    assert answer["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in answer["error"]["message"]
    assert (content_type or "none") in answer["error"]["message"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/problem+json"])
def test_a_bad_json_body_under_any_json_content_type_is_a_422(
    published_demo: str, lambda_context: LocalLambdaContext, content_type: str
) -> None:
    event = with_body(load_event("rerank_http_api_rerank.json"), {"user_id": "185", "item_ids": []})
    event["headers"]["content-type"] = content_type
    status, answer = call(rerank_handler.handler, event, lambda_context)
    assert (status, answer["error"]["code"]) == (422, "invalid_request")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/problem+json"])
def test_a_body_failing_validation_under_any_json_content_type_is_a_422(
    published_demo: str, lambda_context: LocalLambdaContext, content_type: str
) -> None:
    """A body FastAPI itself rejects reaches the content-type check: any JSON media type is JSON."""
    event = with_body(load_event("rerank_http_api_rerank.json"), {"item_ids": ["a"], "surprise": 1})
    event["headers"]["content-type"] = content_type
    status, answer = call(rerank_handler.handler, event, lambda_context)
    assert (status, answer["error"]["code"]) == (422, "invalid_request")


def test_a_bad_query_without_a_content_type_is_a_422_not_a_415(
    published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    event = with_query(load_event("rerank_http_api_recommendations.json"), k="ten")
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    status, answer = call(rerank_handler.handler, event, lambda_context)
    assert (status, answer["error"]["code"]) == (422, "invalid_request")


def test_a_wrong_method_is_a_json_405(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    event = load_event("rerank_http_api_rerank.json")
    event["requestContext"]["http"]["method"] = "DELETE"
    status, answer = call(rerank_handler.handler, event, lambda_context)
    assert status == 405
    assert answer["error"]["code"] == "method_not_allowed"


def test_bad_direct_invokes_get_error_bodies(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    status, body = call(rerank_handler.handler, {"user_id": "185", "k": 0}, lambda_context)
    assert status == 422
    assert "k must be between" in body["error"]["message"]
    status, body = call(rerank_handler.handler, {"action": "similar", "item_id": "1"}, lambda_context)
    assert status == 422
    assert "action must be one of" in body["error"]["message"]
    status, body = call(candidates_handler.handler, {"action": "candidates"}, lambda_context)
    assert status == 422
    assert "user_id" in body["error"]["message"]
    status, body = call(
        candidates_handler.handler, {"action": "similar", "item_id": "1300854", "k": "many"}, lambda_context
    )
    assert status == 422
    assert body["error"]["message"].startswith("k:")
    status, body = call(rerank_handler.handler, {"user_id": "185", "exclude_seen": "perhaps"}, lambda_context)
    assert status == 422
    assert "exclude_seen" in body["error"]["message"]
    status, body = call(rerank_handler.handler, {"user_id": "185", "k": True}, lambda_context)
    assert status == 422 and body["error"]["message"].startswith("k:")
    for not_an_object in ([], "x", 42, None, [{"user_id": "185"}]):
        answer = rerank_handler.handler(not_an_object, lambda_context)
        assert answer["status"] == 422, not_an_object
        assert "must be a JSON object" in answer["error"]["message"]


def test_a_user_id_with_a_trailing_newline_is_refused(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    event = with_user(load_event("rerank_http_api_recommendations.json"), "185%0A")
    event["pathParameters"] = {"user_id": "185\n"}
    status, body = call(rerank_handler.handler, event, lambda_context)
    assert status == 422
    assert "user_id" in body["error"]["message"]


def test_unknown_route_is_a_json_404(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    event = load_event("rerank_http_api_recommendations.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    status, body = call(rerank_handler.handler, event, lambda_context)
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_no_model_answers_503_and_health_still_answers(
    s3: Any, serving_env: None, lambda_context: LocalLambdaContext
) -> None:
    status, body = call(rerank_handler.handler, load_event("rerank_http_api_recommendations.json"), lambda_context)
    assert status == 503
    assert body["error"]["code"] == "model_unavailable"
    assert "no model published" in body["error"]["message"]
    status, body = call(candidates_handler.handler, load_event("candidates_direct.json"), lambda_context)
    assert status == 503
    status, body = call(rerank_handler.handler, {"action": "health"}, lambda_context)
    assert status == 200
    assert body["model_version"] is None


def test_logs_and_metrics(
    published_demo: str, lambda_context: LocalLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    log_stream = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(log_stream)  # the logger kept the stdout it saw at import time
    try:
        call(rerank_handler.handler, load_event("rerank_http_api_rerank.json"), lambda_context)
    finally:
        handler.setStream(previous)
    output = capsys.readouterr().out + log_stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    emf = [line for line in lines if "_aws" in line]
    assert emf, "an EMF metrics blob is printed at the end of each invocation"
    assert emf[-1]["model_version"] == published_demo
    assert "rerank_latency" in emf[-1]
    handled = [line for line in lines if line.get("message") == "request handled"]
    assert handled[-1]["route"] == "POST /rerank"
    assert handled[-1]["status"] == 200
    assert handled[-1]["function_request_id"] == lambda_context.aws_request_id
    assert "cold_start" in handled[-1]
    assert "no-such-item" not in json.dumps(lines)  # request bodies are never logged


def test_a_misconfigured_function_fails_the_invocation_instead_of_blaming_the_caller(
    monkeypatch: pytest.MonkeyPatch, lambda_context: LocalLambdaContext
) -> None:
    from pydantic import ValidationError

    monkeypatch.delenv("MODEL_BUCKET", raising=False)
    monkeypatch.delenv("MODEL_DIR", raising=False)
    with pytest.raises(ValidationError, match="set MODEL_BUCKET"):
        rerank_handler.handler({"user_id": "185"}, lambda_context)


def test_the_candidates_function_downloads_stage_1_only(
    published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    """A fresh container (as on Lambda, its own /tmp): the ranker and the feature tables are never fetched."""
    status, _ = call(candidates_handler.handler, load_event("candidates_direct.json"), lambda_context)
    assert status == 200
    provider = get_provider(with_ranker=False)
    assert isinstance(provider.source, S3Source)
    cached = {path.name for path in (provider.source.cache_dir / published_demo).iterdir()}
    assert cached >= {"als_item_factors.npy", "seen_items.npy", "chart_7d.npy"}
    assert not cached & {A.RANKER, A.USER_FEATURES, A.ITEM_FEATURES, A.USER_TAGS, A.ITEM_TAGS}


def with_jwt(event: dict[str, Any], claims: dict[str, str], scopes: list[str] | None = None) -> dict[str, Any]:
    """The event as API Gateway's JWT authorizer passes it on: the token's claims, already verified."""
    event = json.loads(json.dumps(event))
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
    return event


@pytest.mark.parametrize(
    ("handler", "event_name"),
    [
        (rerank_handler, "rerank_http_api_recommendations.json"),
        (rerank_handler, "rerank_http_api_rerank.json"),
        (candidates_handler, "candidates_http_api.json"),
    ],
)
def test_a_jwt_caller_reads_only_its_own_user(
    published_demo: str, lambda_context: LocalLambdaContext, handler: Any, event_name: str
) -> None:
    event = load_event(event_name)  # every one of these asks about user 185
    status, body = call(handler.handler, with_jwt(event, {"sub": "10728"}), lambda_context)
    assert status == 403
    assert body["error"]["code"] == "forbidden" and "'sub'" in body["error"]["message"]
    status, _ = call(handler.handler, with_jwt(event, {"sub": "185"}), lambda_context)
    assert status == 200
    status, _ = call(handler.handler, with_jwt(event, {"sub": "10728", "scope": "openid recsys/admin"}), lambda_context)
    assert status == 200  # the admin scope, as a claim
    status, _ = call(handler.handler, with_jwt(event, {"sub": "10728"}, ["recsys/admin"]), lambda_context)
    assert status == 200  # ... or as the authorizer's scopes


def test_the_user_claim_and_admin_scope_are_configurable(
    published_demo: str, lambda_context: LocalLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_USER_CLAIM", "custom:user_id")
    monkeypatch.setenv("AUTH_ADMIN_SCOPE", "support")
    event = load_event("rerank_http_api_recommendations.json")
    assert call(rerank_handler.handler, with_jwt(event, {"sub": "185"}), lambda_context)[0] == 403
    assert call(rerank_handler.handler, with_jwt(event, {"custom:user_id": "185"}), lambda_context)[0] == 200
    assert call(rerank_handler.handler, with_jwt(event, {"sub": "x"}, ["support"]), lambda_context)[0] == 200


def test_iam_callers_and_direct_invokes_are_not_limited_to_one_user(
    published_demo: str, lambda_context: LocalLambdaContext
) -> None:
    iam = load_event("rerank_http_api_recommendations.json")  # SigV4: an IAM principal, no end user
    assert "iam" in iam["requestContext"]["authorizer"]
    assert call(rerank_handler.handler, iam, lambda_context)[0] == 200
    assert call(rerank_handler.handler, {"user_id": "185"}, lambda_context)[0] == 200


@pytest.mark.parametrize(
    "change",
    [
        {"requestContext": {}},
        {"requestContext": ["not", "an", "object"]},
        {"headers": ["not", "an", "object"]},
        {"body": {"not": "a string"}},
    ],
)
def test_a_half_shaped_api_gateway_event_is_a_400_not_a_failed_invocation(
    published_demo: str, lambda_context: LocalLambdaContext, change: dict[str, Any]
) -> None:
    event = {**load_event("rerank_http_api_recommendations.json"), **change}
    status, body = call(rerank_handler.handler, event, lambda_context)
    assert status == 400
    assert body["error"]["code"] == "bad_request" and "API Gateway event" in body["error"]["message"]


def test_an_event_naming_only_a_route_is_a_400(published_demo: str, lambda_context: LocalLambdaContext) -> None:
    status, body = call(rerank_handler.handler, {"requestContext": {}, "routeKey": "GET /x"}, lambda_context)
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_one_provider_per_kind_however_it_is_asked_for(serving_env: None) -> None:
    """The handlers ask for `get_provider(with_ranker)`, scripts for `get_provider()`: one container must hold one
    model, and a refresh through either must swap what requests are answered from."""
    assert get_provider() is get_provider(True) is get_provider(with_ranker=True)
    assert get_provider(False) is get_provider(with_ranker=False) is not get_provider()
