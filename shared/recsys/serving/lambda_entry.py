"""Lambda entry points: API Gateway events go through FastAPI (Mangum), plain events straight to the service.

A direct invoke (`aws lambda invoke`, `sam local invoke`, a Step Functions task) sends plain
JSON such as {"user_id": "42", "k": 10}; the optional "action" picks the route:
recommend (rerank function default), rerank, candidates (candidates function default),
similar, model, health. The answer is the same JSON body the HTTP route returns; an error is
{"error": {"code", "message"}, "status": <HTTP status>}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum
from pydantic import ValidationError

from recsys.errors import RecsysError
from recsys.serving.http import (
    CandidatesBody,
    RecommendBody,
    RerankBody,
    SimilarBody,
    create_app,
    error_body,
    service,
    validation_message,
)
from recsys.serving.telemetry import logger, metrics, tracer

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
#: What each function answers on a direct invoke; the first is the default when "action" is absent.
ACTIONS = {
    "rerank": ("recommend", "rerank", "model", "health"),
    "candidates": ("candidates", "similar", "model", "health"),
}


def is_http_event(event: dict[str, Any]) -> bool:
    return "requestContext" in event and ("routeKey" in event or "httpMethod" in event)


def action_of(function: str, event: dict[str, Any]) -> str:
    return str(event.get("action", ACTIONS[function][0]))


def direct_invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    action = action_of(function, event)
    svc = service()
    try:
        if action not in ACTIONS[function]:
            return {
                **error_body("invalid_request", f"action must be one of {', '.join(ACTIONS[function])}"),
                "status": 422,
            }
        fields = {k: v for k, v in event.items() if k != "action"}
        if action == "recommend":
            body = RecommendBody.model_validate(fields)
            return svc.recommend(body.user_id, body.k, body.exclude_seen, body.exclude, body.genre, body.recent_items)
        if action == "candidates":
            candidates = CandidatesBody.model_validate(fields)
            return svc.candidates(candidates.user_id, candidates.k, candidates.recent_items, candidates.exclude)
        if action == "rerank":
            rerank = RerankBody.model_validate(fields)
            return svc.rerank(rerank.user_id, rerank.item_ids, rerank.k)
        if action == "similar":
            similar = SimilarBody.model_validate(fields)
            return svc.similar(similar.item_id, similar.k)
        if action == "model":
            return svc.model_info()
        return svc.health()
    except ValidationError as exc:
        return {**error_body("invalid_request", validation_message(exc.errors())), "status": 422}
    except RecsysError as exc:
        return {**error_body(exc.code, exc.message), "status": exc.status}


def make_handler(function: str) -> Handler:
    asgi = Mangum(create_app(function), lifespan="off", api_gateway_base_path="/")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="invocations", unit=MetricUnit.Count, value=1)
        if is_http_event(event):
            response: dict[str, Any] = asgi(event, context)  # type: ignore[arg-type]
            route = event.get("routeKey") or f"{event.get('httpMethod')} {event.get('resource')}"
            status = int(response.get("statusCode", 500))
        else:
            response = direct_invoke(function, event)
            route = f"direct:{action_of(function, event)}"
            status = int(response.get("status", 200)) if "error" in response else 200
        # one line per request: where it went and how it ended, never the bodies
        logger.info("request handled", extra={"route": route, "status": status})
        return response

    return cast(Handler, handler)
