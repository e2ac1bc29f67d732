"""boto3 clients: one per service per container, created on first use.

Importing this costs nothing; tests start moto first and call `reset()` between cases. boto3
honours AWS_ENDPOINT_URL, so the same clients reach a moto server on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import botocore.session
    from boto3.session import Session
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient


@dataclass
class _Sessions:
    core: botocore.session.Session | None = None
    boto3: Session | None = None


_sessions = _Sessions()


def _session() -> Session:
    if _sessions.boto3 is None:
        _start_session()
    assert _sessions.boto3 is not None
    return _sessions.boto3


def _start_session(keep_service_models: bool = False) -> None:
    import boto3  # deferred: a cold start that never touches AWS never pays for it
    import botocore.session

    core = botocore.session.get_session()
    if keep_service_models and _sessions.core is not None:
        # the service descriptions (JSON) are what a new session spends ~70 ms loading; they never go stale
        core.register_component("data_loader", _sessions.core.get_component("data_loader"))
    _sessions.core, _sessions.boto3 = core, boto3.session.Session(botocore_session=core)


@cache
def _client(service: str, timeout_seconds: float | None = None) -> Any:
    from botocore.config import Config

    if timeout_seconds is None:
        # bounded waits: a stalled connection must not hold a request (or a SnapStart hook) for minutes
        config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
    else:
        # a read inside a request's budget: one attempt, and no wait longer than the budget
        config = Config(
            connect_timeout=timeout_seconds, read_timeout=timeout_seconds, retries={"total_max_attempts": 1}
        )
    return _session().client(service, config=config)  # type: ignore[call-overload]


def s3() -> S3Client:
    return cast("S3Client", _client("s3"))


def stepfunctions() -> SFNClient:
    return cast("SFNClient", _client("stepfunctions"))


def dynamodb(timeout_seconds: float | None = None) -> DynamoDBClient:
    """The DynamoDB client; with `timeout_seconds`, one that tries once with socket timeouts of that (which
    bound each connect and each receive, not a whole call: `recsys.events.session` adds the deadline)."""
    return cast("DynamoDBClient", _client("dynamodb", timeout_seconds))


def firehose() -> FirehoseClient:
    return cast("FirehoseClient", _client("firehose"))


def reset() -> None:
    """Forget every client and the session (a new container; or a test that started another moto)."""
    _client.cache_clear()
    _sessions.core = _sessions.boto3 = None


def renew() -> None:
    """A new session and new clients, after a SnapStart restore: the snapshot's credentials and open
    connections may be stale. The next client then costs ~20 ms, not the ~90 ms of a session from
    nothing (docs/benchmarks.md)."""
    _client.cache_clear()
    _start_session(keep_service_models=True)
