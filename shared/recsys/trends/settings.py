"""Which events count as interactions: the overlay refresh and the retraining read the same setting."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from recsys.runtime.container import per_container
from recsys.runtime.settings import FromEnvironment


class TrendSettings(FromEnvironment):
    trend_event_types: frozenset[str] | None = Field(
        None, description="comma-separated event types that count as interactions (unset: every type)"
    )

    @field_validator("trend_event_types", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            types = frozenset(part.strip() for part in value.split(",") if part.strip())
            return types or None
        return value


@per_container
def get_trend_settings() -> TrendSettings:
    return TrendSettings()
