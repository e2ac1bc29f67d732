"""Request and response models of every route: FastAPI documents them (OpenAPI at /docs) and
direct invoke validates and serialises with the same classes, so both speak one JSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Fallback = Literal["popularity", "session"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendRequest(_Request):
    """GET /recommendations/{user_id}'s parameters; the body of a direct-invoke `recommend`."""

    user_id: str = Field(min_length=1)
    k: StrictInt | None = None  # `true` is not 1
    exclude_seen: bool = True
    exclude: list[str] = Field(default_factory=list)
    genre: str | None = None
    recent_items: list[str] = Field(default_factory=list)


class CandidatesRequest(_Request):
    user_id: str = Field(min_length=1)
    k: StrictInt | None = None  # `true` is not 1
    recent_items: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class RerankRequest(_Request):
    user_id: str = Field(min_length=1)
    item_ids: list[str]
    k: StrictInt | None = None  # `true` is not 1


class SimilarRequest(_Request):
    item_id: str = Field(min_length=1)
    k: StrictInt | None = None  # `true` is not 1


class NoParameters(BaseModel):
    """/health and /model take nothing (a direct invoke may still carry other keys)."""

    model_config = ConfigDict(extra="ignore")


class ScoredItem(BaseModel):
    item_id: str
    score: float | None = Field(description="higher is better; null for an id the model does not know")
    rank: int = Field(ge=1)
    reason: str = Field(description="the source that proposed the item, `requested`, or `unknown_item`")


class SourceOpinion(BaseModel):
    score: float | None = Field(description="the source's score; null where it has no opinion")
    rank: int | None = Field(description="1-based rank in the source's own list; null where it did not propose it")


class Candidate(ScoredItem):
    sources: dict[str, SourceOpinion]


class _Answer(BaseModel):
    model_version: str


class Recommendations(_Answer):
    user_id: str
    fallback: Fallback | None = Field(
        description="for a user the model has no history of: `session` when their latest events (or "
        "`recent_items`) seeded the list, `popularity` otherwise"
    )
    candidates_considered: int
    items: list[ScoredItem]


class CandidateList(_Answer):
    user_id: str
    fallback: Fallback | None
    items: list[Candidate]


class Reranked(_Answer):
    user_id: str
    fallback: Fallback | None
    items: list[ScoredItem]
    unknown_items: list[str] = Field(description="ids the model does not know, ranked last without a score")


class SimilarItems(_Answer):
    item_id: str
    items: list[ScoredItem]


class ModelInfo(_Answer):
    created_at: str
    data_fingerprint: str
    source: str
    pinned: bool
    load_seconds: float | None
    users: int
    items: int
    features: int
    sources: list[str]
    metrics: dict[str, dict[str, float]] = Field(description="each evaluated system's test metrics, all users")
    files: dict[str, int] = Field(description="bytes of the largest files")
    overlay: str | None = Field(None, description="the live-trends overlay served; None: the model's own trends")
    trends_as_of: str | None = Field(None, description="when the overlay's trend features and charts hold (UTC)")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model_version: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
