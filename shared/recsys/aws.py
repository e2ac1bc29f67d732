"""boto3 clients: one per service per container, created on first use.

Importing this costs nothing; tests start moto first and call `reset()` between cases. boto3
honours AWS_ENDPOINT_URL, so the same clients reach a moto server on 127.0.0.1.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@cache
def _client(service: str) -> Any:
    import boto3  # deferred: a cold start that never touches AWS never pays for it

    return boto3.client(service)  # type: ignore[call-overload]


def s3() -> S3Client:
    return cast("S3Client", _client("s3"))


def stepfunctions() -> SFNClient:
    return cast("SFNClient", _client("stepfunctions"))


def reset() -> None:
    """Forget every client (a new container; or a test that started another moto)."""
    _client.cache_clear()
