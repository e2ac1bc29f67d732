"""The API's limits, from environment variables validated once per container."""

from __future__ import annotations

from pydantic import Field

from recsys.runtime.container import per_container
from recsys.runtime.settings import RequestLimits


class ApiSettings(RequestLimits):
    max_item_ids: int = Field(500, ge=1, le=10_000)
    max_recent_items: int = Field(50, ge=0, le=1000)
    # JWT mode: which claim names the caller's user id, and which scope may read any user's
    auth_user_claim: str = Field("sub", min_length=1)
    auth_admin_scope: str = Field("recsys/admin", min_length=1)


@per_container
def get_api_settings() -> ApiSettings:
    return ApiSettings()
