"""Lambda entry of the serving functions: API Gateway events through FastAPI (Mangum), plain events
through one table of actions.

A direct invoke (`aws lambda invoke`, `sam local invoke`, a Step Functions task) sends a JSON
object such as {"user_id": "42", "k": 10}; the optional "action" picks the route:
recommend (rerank function default), rerank, candidates (candidates function default),
similar, model, health; and for the ingest function put_events (default, a PutEvents body) and
put_event_batch ({"events": [...]}). The answer is the same JSON body the HTTP route returns; an error is
{"error": {"code", "message"}, "status": <HTTP status>}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum
from pydantic import BaseModel, ValidationError

from recsys.api.app import RANKS, create_app, error_body, service_factory, validation_message
from recsys.api.models import (
    CandidatesRequest,
    NoParameters,
    RecommendRequest,
    RerankRequest,
    SimilarRequest,
)
from recsys.api.service import RecommendationService
from recsys.api.warmup import warm_up
from recsys.errors import RecsysError
from recsys.events.ingest import EventIngestor, get_ingestor
from recsys.events.models import EventBatchRequest, PutEventsRequest
from recsys.runtime.lambda_handler import Event, Handler, instrumented
from recsys.runtime.snapstart import Preparation, prepare
from recsys.runtime.telemetry import logger


@dataclass(frozen=True)
class Action:
    request: type[BaseModel]
    run: Callable[[Any, Any], BaseModel]  # (the function's service, the validated request) -> its answer


ACTIONS: dict[str, Action] = {
    "recommend": Action(RecommendRequest, RecommendationService.recommend),
    "rerank": Action(RerankRequest, RecommendationService.rerank),
    "candidates": Action(CandidatesRequest, RecommendationService.candidates),
    "similar": Action(SimilarRequest, RecommendationService.similar),
    "model": Action(NoParameters, lambda service, _: service.model_info()),
    "health": Action(NoParameters, lambda service, _: service.health()),
    "put_events": Action(PutEventsRequest, EventIngestor.put_events),
    "put_event_batch": Action(EventBatchRequest, EventIngestor.put_event_batch),
}
#: What each function answers on a direct invoke; the first is the default when "action" is absent.
FUNCTION_ACTIONS = {
    "rerank": ("recommend", "rerank", "model", "health"),
    "candidates": ("candidates", "similar", "model", "health"),
    "ingest": ("put_events", "put_event_batch"),
}


def is_http_event(event: Event) -> bool:
    return isinstance(event, dict) and "requestContext" in event and ("routeKey" in event or "httpMethod" in event)


def action_of(function: str, event: Event) -> str:
    return str(event.get("action", FUNCTION_ACTIONS[function][0])) if isinstance(event, dict) else "?"


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {**error_body(code, message), "status": status}


Service = RecommendationService | EventIngestor


def direct_invoke(function: str, event: Event, service: Callable[[], Service]) -> dict[str, Any]:
    if not isinstance(event, dict):
        return _error("invalid_request", f"a direct invoke must be a JSON object, got {type(event).__name__}", 422)
    action = action_of(function, event)
    if action not in FUNCTION_ACTIONS[function]:
        return _error("invalid_request", f"action must be one of {', '.join(FUNCTION_ACTIONS[function])}", 422)
    spec = ACTIONS[action]
    try:
        request = spec.request.model_validate({k: v for k, v in event.items() if k != "action"})
    except ValidationError as exc:
        return _error("invalid_request", validation_message(exc.errors()), 422)
    try:
        # settings errors (ValidationError) are the deployment's fault, not the caller's: they fail the invocation
        return spec.run(service(), request).model_dump(mode="json")
    except RecsysError as exc:
        return _error(exc.code, exc.message, exc.status)


def _http(asgi: Mangum, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The event through Mangum; one that only looks like API Gateway's (fields missing or of the wrong
    type) is the sender's error: a 400 in the error shape, never a failed invocation."""
    try:
        response: dict[str, Any] = asgi(event, cast(Any, context))
        return response
    except (KeyError, AttributeError, TypeError, ValueError, RuntimeError) as exc:
        logger.warning("malformed API Gateway event", extra={"reason": f"{type(exc).__name__}: {exc}"})
        body = error_body("bad_request", f"not a well-formed API Gateway event ({type(exc).__name__}: {exc})")
        return {"statusCode": 400, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def make_handler(function: str) -> Handler:
    asgi = Mangum(create_app(function), lifespan="off", api_gateway_base_path="/")
    service: Callable[[], Service]
    if function in RANKS:
        recommendations = service = service_factory([function])
        prepare(
            Preparation(
                provider=lambda: recommendations().provider,
                warm_up=lambda model: warm_up(cast(Any, asgi), function, model),
            )
        )
    else:  # ingestion loads no model: nothing to prepare before a snapshot
        service = get_ingestor

    def handle(event: Event, context: LambdaContext) -> dict[str, Any]:
        if is_http_event(event):
            response: dict[str, Any] = _http(asgi, event, context)
            route = event.get("routeKey") or f"{event.get('httpMethod')} {event.get('resource')}"
            status = int(response.get("statusCode", 500))
        else:
            response = direct_invoke(function, event, service)
            route = f"direct:{action_of(function, event)}"
            status = int(response.get("status", 200)) if "error" in response else 200
        # one line per request: where it went and how it ended, never the bodies
        logger.info("request handled", extra={"route": route, "status": status})
        return response

    return instrumented(handle, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
