"""Environment variables, validated once per container, split by concern.

`ModelSettings` (where the model comes from) is read by every function; `RequestLimits` by
those that take user ids and k (the HTTP API and batch); each adds its own in its package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the k of a request that names none; training generates its label candidates for it too
DEFAULT_K: Final = 10


class FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", protected_namespaces=())


class ModelSettings(FromEnvironment):
    """Set in template.yaml (Globals); each has a default that works locally."""

    model_bucket: str | None = Field(None, description="bucket holding <prefix>/models/")
    model_prefix: str = Field("recsys", pattern=r"^[A-Za-z0-9!_.*'()/-]{0,200}$")
    model_dir: Path | None = Field(None, description="serve a local model directory instead of S3")
    model_version: str | None = Field(None, description="pin a version: no refresh, CURRENT ignored")
    model_refresh_seconds: float = Field(60.0, ge=1.0, le=86_400.0)
    model_retry_failed_seconds: float = Field(
        600.0, ge=1.0, le=86_400.0, description="wait before retrying a bad version"
    )
    model_cache_dir: Path = Path("/tmp/recsys-models")  # Lambda's only writable disk

    @model_validator(mode="after")
    def _has_a_model_source(self) -> ModelSettings:
        if self.model_bucket is None and self.model_dir is None:
            raise ValueError("set MODEL_BUCKET (with MODEL_PREFIX) or MODEL_DIR")
        return self


class RequestLimits(FromEnvironment):
    """What a request (or a batch row) may ask for."""

    default_k: int = Field(DEFAULT_K, ge=1)
    max_k: int = Field(100, ge=1, le=1000)
    max_id_length: int = Field(128, ge=1, le=1024)

    @model_validator(mode="after")
    def _default_within_max(self) -> RequestLimits:
        if self.default_k > self.max_k:
            raise ValueError("DEFAULT_K must not exceed MAX_K")
        return self
