"""The same code against a moto *server* on 127.0.0.1, reached only through AWS_ENDPOINT_URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from recsys.runtime import container as runtime
from recsys.store.lifecycle import publish
from recsys.store.s3 import S3ModelStore
from recsys.train.pipeline import TrainJob


@pytest.fixture
def moto_endpoint(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    yield endpoint
    server.stop()


def test_publish_and_cold_load_through_a_moto_server(
    moto_endpoint: str, tmp_path: Path, synthetic_run: TrainJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("s3").create_bucket(Bucket="endpoint-test")
    store = S3ModelStore("endpoint-test", "prod/recs")
    assert store.client.meta.endpoint_url == moto_endpoint
    publish(synthetic_run.out, store)

    monkeypatch.setenv("MODEL_BUCKET", "endpoint-test")
    monkeypatch.setenv("MODEL_PREFIX", "prod/recs")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    runtime.reset()
    model = runtime.get_provider().get()
    assert model.version == store.current_version()
    assert (tmp_path / "cache" / model.version / "manifest.json").is_file()
