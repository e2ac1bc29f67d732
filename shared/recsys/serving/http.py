"""The FastAPI app each function serves (behind Mangum on Lambda, under uvicorn locally).

Errors have one JSON shape, {"error": {"code", "message"}}, mapped here and only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from recsys.errors import RecsysError
from recsys.serving.runtime import get_provider, get_settings
from recsys.serving.service import RecommendationService
from recsys.serving.telemetry import logger

FUNCTIONS = ("candidates", "rerank")
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
}


class CandidatesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1)
    k: int | None = None
    recent_items: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class RecommendBody(CandidatesBody):
    """A direct-invoke recommend event: the query parameters of GET /recommendations as JSON."""

    exclude_seen: bool = True
    genre: str | None = None


class SimilarBody(BaseModel):
    """A direct-invoke similar-items event."""

    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1)
    k: int | None = None


class RerankBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1)
    item_ids: list[str]
    k: int | None = None


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def service() -> RecommendationService:
    return RecommendationService(get_provider(), get_settings())


def validation_message(errors: Sequence[Any]) -> str:
    """The first validation error as `field: what is wrong` (FastAPI's and pydantic's errors alike)."""
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}"


def create_app(functions: str | Iterable[str] = FUNCTIONS) -> FastAPI:
    """The routes of one function ("candidates" or "rerank"), or of both for local serving.

    Routes are `async def` although they compute: a Lambda container serves one request at a
    time, and a plain `def` route would be handed to a worker thread, which Mangum's fresh
    event loop per invocation must start anew each time (about 2 ms of every request).
    """
    enabled = {functions} if isinstance(functions, str) else set(functions)
    app = FastAPI(
        title="serverless-recsys",
        version="1",
        description="Two-stage recommendations: ALS + co-visitation + popularity candidates, LightGBM reranking.",
    )

    @app.exception_handler(RecsysError)
    async def _domain_error(request: Request, exc: RecsysError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", validation_message(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, Any]:
        return service().health()

    @app.get("/model", tags=["ops"])
    async def model() -> dict[str, Any]:
        return service().model_info()

    if "rerank" in enabled:

        @app.get("/recommendations/{user_id}", tags=["recommendations"])
        async def recommendations(
            user_id: Annotated[str, Path(min_length=1)],
            k: int | None = None,
            exclude_seen: bool = True,
            exclude: Annotated[str | None, Query(description="comma-separated item ids")] = None,
            genre: str | None = None,
            recent_items: Annotated[str | None, Query(description="comma-separated item ids")] = None,
        ) -> dict[str, Any]:
            return service().recommend(user_id, k, exclude_seen, _split(exclude), genre, _split(recent_items))

        @app.post("/rerank", tags=["recommendations"])
        async def rerank(body: Annotated[RerankBody, Body()]) -> dict[str, Any]:
            return service().rerank(body.user_id, body.item_ids, body.k)

    if "candidates" in enabled:

        @app.post("/candidates", tags=["candidates"])
        async def candidates(body: Annotated[CandidatesBody, Body()]) -> dict[str, Any]:
            return service().candidates(body.user_id, body.k, body.recent_items, body.exclude)

        @app.get("/items/{item_id}/similar", tags=["candidates"])
        async def similar(item_id: Annotated[str, Path(min_length=1)], k: int | None = None) -> dict[str, Any]:
            return service().similar(item_id, k)

    return app


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []
