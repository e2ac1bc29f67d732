"""BatchScoringFunction's settings, from environment variables validated once per container."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recsys.bulk import CHUNK_USERS
from recsys.runtime.container import per_container
from recsys.runtime.settings import RequestLimits


class BatchSettings(RequestLimits):
    """How a file is scored: inline in the invocation S3 triggered, or in row ranges by the Distributed
    Map when one invocation could not finish it. Time decides, not bytes: rows (counted) over the
    throughput a function sustains must fit `batch_max_seconds`, well inside Lambda's 900 s."""

    batch_chunk_users: int = Field(CHUNK_USERS, ge=1, le=100_000)
    batch_output_format: str = Field("parquet", pattern=r"^(parquet|personalize)$")
    batch_users_per_second: float = Field(
        200.0, gt=0, description="throughput to plan with: below the slowest measured (docs/benchmarks.md)"
    )
    batch_max_seconds: float = Field(600.0, gt=0, le=840, description="scoring time one invocation may plan for")
    batch_inline_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1, description="larger inputs go to the state machine without being counted"
    )
    batch_rows_per_range: int | None = Field(None, ge=1, description="rows per Distributed Map item (default: timed)")
    batch_state_machine_arn: str | None = None
    batch_work_dir: Path = Path("/tmp/recsys-batch")

    @property
    def rows_per_invocation(self) -> int:
        """The most rows one invocation is given: inline, or as one Distributed Map range."""
        timed = int(self.batch_users_per_second * self.batch_max_seconds)
        return min(timed, self.batch_rows_per_range) if self.batch_rows_per_range else timed


@per_container
def get_batch_settings() -> BatchSettings:
    return BatchSettings()
