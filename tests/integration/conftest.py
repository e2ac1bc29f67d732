"""AWS fixtures: in-process moto (mock_aws), and model variants to publish."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws
from recsys import artifacts as A
from recsys.runtime import container as runtime
from recsys.runtime.local_context import LocalLambdaContext
from recsys.train.pipeline import TrainJob

from ..unit.test_template import RESOURCES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

BUCKET = "recsys-models-test"
TABLE, STREAM, PREFIX = "recsys-user-events", "recsys-events", "recsys"


@pytest.fixture
def s3(aws_env: None) -> Iterator[S3Client]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def event_store(s3: S3Client, monkeypatch: pytest.MonkeyPatch) -> DynamoDBClient:
    """The events table as the template declares it, and a Firehose stream into the model bucket."""
    declared = RESOURCES["UserEventsTable"]["Properties"]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode=declared["BillingMode"],
        KeySchema=declared["KeySchema"],
        AttributeDefinitions=declared["AttributeDefinitions"],
    )
    boto3.client("firehose", region_name="us-east-1").create_delivery_stream(
        DeliveryStreamName=STREAM,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/events-delivery",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": f"{PREFIX}/events/",
        },
    )
    monkeypatch.setenv("USER_EVENTS_TABLE", TABLE)
    monkeypatch.setenv("EVENTS_STREAM", STREAM)
    monkeypatch.setenv("EVENTS_TTL_DAYS", "3650")  # the event files are dated 2026-11-23
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    return dynamodb


@pytest.fixture(autouse=True)
def _fresh_container() -> Iterator[None]:
    """Each test starts as a new Lambda container: no cached settings, no loaded model."""
    runtime.reset()
    yield
    runtime.reset()


def model_variant(source: Path, folder: Path, version: str, ndcg: float | None = None) -> Path:
    """A copy of a trained model under another version name (and, if given, another test nDCG@10)."""
    target = folder / version
    shutil.copytree(source, target)
    body = json.loads((target / A.MANIFEST).read_text())
    body["version"] = version
    if ndcg is not None:
        body["metrics"]["two_stage"]["all"]["ndcg@10"] = ndcg
    (target / A.MANIFEST).write_text(json.dumps(body, indent=2))
    return target


@pytest.fixture
def variants(tmp_path: Path, synthetic_run: TrainJob) -> dict[str, Path]:
    """Three copies of the synthetic model: v1-a, a better v2-b and a worse v3-worse (by test nDCG@10)."""
    return {
        "a": model_variant(synthetic_run.out, tmp_path, "v1-a", ndcg=0.20),
        "b": model_variant(synthetic_run.out, tmp_path, "v2-b", ndcg=0.25),
        "worse": model_variant(synthetic_run.out, tmp_path, "v3-worse", ndcg=0.10),
    }


@pytest.fixture
def lambda_context() -> LocalLambdaContext:
    return LocalLambdaContext(
        function_name="RerankFunction", aws_request_id="52fdfc07-2182-154f-163f-5f0f9a621d72", remaining_millis=30_000
    )


@pytest.fixture
def serving_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_PREFIX", "recsys")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "model-cache"))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture
def published_demo(s3: S3Client, serving_env: None, demo_model_dir: Path) -> str:
    """The demo model published to moto and made live; returns its version."""
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    store = S3ModelStore(BUCKET, "recsys")
    publish(demo_model_dir, store)
    version = store.current_version()
    assert version is not None
    return version
