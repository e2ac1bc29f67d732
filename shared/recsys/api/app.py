"""The FastAPI app each serving function runs (behind Mangum on Lambda, under uvicorn locally).

Errors have one JSON shape, {"error": {"code", "message"}}, mapped here and only here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.api.auth import check_acts_for
from recsys.api.models import (
    CandidateList,
    CandidatesRequest,
    ErrorBody,
    Health,
    ModelInfo,
    Recommendations,
    RecommendRequest,
    Reranked,
    RerankRequest,
    SimilarItems,
    SimilarRequest,
)
from recsys.api.service import RecommendationService
from recsys.api.settings import get_api_settings
from recsys.errors import RecsysError
from recsys.events.ingest import get_ingestor
from recsys.events.models import EventBatchRequest, Ingested, PutEventsRequest
from recsys.events.session import get_session_reader
from recsys.runtime.container import get_provider
from recsys.runtime.telemetry import logger

#: The two serving functions -> whether each ranks (loads the ranker and its feature tables).
RANKS = {"rerank": True, "candidates": False}
#: Every function with HTTP routes: the two serving ones, and event ingestion (no model).
FUNCTIONS = (*RANKS, "ingest")
_HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in {**_HTTP_CODES, 503: "model_unavailable"}.items()
}

#: the ingest routes have no model: their 503 is the event store's
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": "event_store_unavailable"}}


def error_body(code: str, message: str) -> dict[str, Any]:
    return ErrorBody.model_validate({"error": {"code": code, "message": message}}).model_dump()


def validation_message(errors: Sequence[Any]) -> str:
    """The first validation error as `field: what is wrong` (FastAPI's and pydantic's errors alike)."""
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}"


def service_factory(functions: Iterable[str]) -> Callable[[], RecommendationService]:
    """The service for an app serving these functions: with the ranker if any of them ranks."""
    with_ranker = any(RANKS.get(name, False) for name in functions)

    def service() -> RecommendationService:
        return RecommendationService(get_provider(with_ranker), get_api_settings(), get_session_reader())

    return service


def create_app(functions: str | Iterable[str] = FUNCTIONS) -> FastAPI:
    """The routes of one function ("candidates", "rerank" or "ingest"), or of several for local serving.

    Routes are `async def` although they compute: a Lambda container serves one request at a
    time, and a plain `def` route would be handed to a worker thread, which Mangum's fresh
    event loop per invocation must start anew each time (about 2 ms of every request).
    """
    enabled = {functions} if isinstance(functions, str) else set(functions)
    unknown = enabled - set(FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown function(s) {sorted(unknown)}; choose from {sorted(FUNCTIONS)}")
    service = service_factory(enabled)
    app = FastAPI(
        title="serverless-recsys",
        version="1",
        description="Two-stage recommendations: candidate sources, then LightGBM reranking.",
        responses=_ERRORS,
    )

    @app.exception_handler(RecsysError)
    async def _domain_error(request: Request, exc: RecsysError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        body_error = any(error.get("loc", ("",))[0] == "body" for error in exc.errors())
        content_type = request.headers.get("content-type")
        if body_error and not _is_json(content_type):
            # `curl -d` sends a form content type; FastAPI then never parses the JSON it carries
            message = f"send the body as JSON with Content-Type: application/json (got {content_type or 'none'})"
            return JSONResponse(error_body("unsupported_media_type", message), status_code=415)
        return JSONResponse(error_body("invalid_request", validation_message(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        # keep Starlette's headers: a 405 must say what is allowed (`Allow`, RFC 9110)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)

    if enabled & set(RANKS):  # the ops routes answer about a model; ingestion has none

        @app.get("/health", tags=["ops"])
        async def health() -> Health:
            return service().health()

        @app.get("/model", tags=["ops"])
        async def model() -> ModelInfo:
            return service().model_info()

    if "rerank" in enabled:

        @app.get("/recommendations/{user_id}", tags=["recommendations"])
        async def recommendations(
            http: Request,
            user_id: Annotated[str, Path(min_length=1)],
            k: int | None = None,
            exclude_seen: bool = True,
            exclude: Annotated[str | None, Query(description="comma-separated item ids")] = None,
            genre: str | None = None,
            recent_items: Annotated[str | None, Query(description="comma-separated item ids")] = None,
        ) -> Recommendations:
            check_acts_for(http, [user_id], get_api_settings())
            request = RecommendRequest(
                user_id=user_id,
                k=k,
                exclude_seen=exclude_seen,
                exclude=_split(exclude),
                genre=genre,
                recent_items=_split(recent_items),
            )
            return service().recommend(request)

        @app.post("/rerank", tags=["recommendations"])
        async def rerank(http: Request, body: Annotated[RerankRequest, Body()]) -> Reranked:
            check_acts_for(http, [body.user_id], get_api_settings())
            return service().rerank(body)

    if "candidates" in enabled:

        @app.post("/candidates", tags=["candidates"])
        async def candidates(http: Request, body: Annotated[CandidatesRequest, Body()]) -> CandidateList:
            check_acts_for(http, [body.user_id], get_api_settings())
            return service().candidates(body)

        @app.get("/items/{item_id}/similar", tags=["candidates"])
        async def similar(item_id: Annotated[str, Path(min_length=1)], k: int | None = None) -> SimilarItems:
            return service().similar(SimilarRequest(item_id=item_id, k=k))

    if "ingest" in enabled:

        @app.post("/events", tags=["events"], responses=_INGEST_ERRORS)
        async def put_events(http: Request, body: Annotated[PutEventsRequest, Body()]) -> Ingested:
            check_acts_for(http, [body.user_id], get_api_settings())
            return get_ingestor().put_events(body)

        @app.post("/events/batch", tags=["events"], responses=_INGEST_ERRORS)
        async def put_event_batch(http: Request, body: Annotated[EventBatchRequest, Body()]) -> Ingested:
            check_acts_for(http, {event.user_id for event in body.events}, get_api_settings())
            return get_ingestor().put_event_batch(body)

    return app


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []
