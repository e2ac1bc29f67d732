"""BatchScoringFunction's settings, from environment variables validated once per container."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recsys.bulk import CHUNK_USERS
from recsys.runtime.container import per_container
from recsys.runtime.settings import RequestLimits


class BatchSettings(RequestLimits):
    batch_chunk_users: int = Field(CHUNK_USERS, ge=1, le=100_000)
    batch_output_format: str = Field("parquet", pattern=r"^(parquet|personalize)$")
    batch_inline_max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="larger inputs go to the state machine")
    batch_rows_per_range: int = Field(250_000, ge=1, description="rows per Distributed Map item")
    batch_state_machine_arn: str | None = None
    batch_work_dir: Path = Path("/tmp/recsys-batch")


@per_container
def get_batch_settings() -> BatchSettings:
    return BatchSettings()
