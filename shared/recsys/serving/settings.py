"""Every environment variable the functions read, validated once per container."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.engine import CHUNK_USERS


class ServingSettings(BaseSettings):
    """Set in template.yaml (Globals and per function); each has a default that works locally."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    model_bucket: str | None = Field(None, description="bucket holding <prefix>/models/")
    model_prefix: str = Field("recsys", pattern=r"^[A-Za-z0-9!_.*'()/-]{0,200}$")
    model_dir: Path | None = Field(None, description="serve a local model directory instead of S3")
    model_version: str | None = Field(None, description="pin a version: no refresh, CURRENT ignored")
    model_refresh_seconds: float = Field(60.0, ge=1.0, le=86_400.0)
    model_cache_dir: Path = Path("/tmp/recsys-models")  # Lambda's only writable disk
    default_k: int = Field(10, ge=1)
    max_k: int = Field(100, ge=1, le=1000)
    max_item_ids: int = Field(500, ge=1, le=10_000)
    max_recent_items: int = Field(50, ge=0, le=1000)
    max_id_length: int = Field(128, ge=1, le=1024)
    batch_chunk_users: int = Field(CHUNK_USERS, ge=1, le=100_000)
    batch_output_format: str = Field("parquet", pattern=r"^(parquet|personalize)$")
    batch_inline_max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="larger inputs go to the state machine")
    batch_rows_per_range: int = Field(250_000, ge=1, description="rows per Distributed Map item")
    batch_state_machine_arn: str | None = None
    batch_work_dir: Path = Path("/tmp/recsys-batch")

    @model_validator(mode="after")
    def _has_a_model_source(self) -> ServingSettings:
        if self.model_bucket is None and self.model_dir is None:
            raise ValueError("set MODEL_BUCKET (with MODEL_PREFIX) or MODEL_DIR")
        if self.default_k > self.max_k:
            raise ValueError("DEFAULT_K must not exceed MAX_K")
        return self
