"""SnapStart: the hooks the managed runtime calls, run here in the order it documents.

Lambda runs the before-snapshot hooks in reverse order of registration when a version is published,
and the after-restore hooks in order of registration in every restored environment. The tests call
the registered hooks that way (`snapshot`, `restore`), with the model in moto's S3.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import snapshot_restore_py
from recsys import aws
from recsys.api.lambda_entry import make_handler
from recsys.api.service import RecommendationService
from recsys.errors import ModelUnavailableError
from recsys.runtime import container as runtime
from recsys.runtime.local_context import LocalLambdaContext
from recsys.runtime.telemetry import metrics
from recsys.store.lifecycle import publish
from recsys.store.s3 import S3ModelStore

from tests.conftest import load_event

from .conftest import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Hooks = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


@pytest.fixture
def hooks() -> Iterator[tuple[Hooks, Hooks]]:
    """The library's registries (before snapshot, after restore), empty at the start and end of a test."""
    before, after = snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()
    before.clear()
    after.clear()
    yield before, after
    before.clear()
    after.clear()


def snapshot(before: Hooks) -> None:
    for hook, args, kwargs in reversed(before):
        hook(*args, **kwargs)


def restore(after: Hooks) -> None:
    for hook, args, kwargs in after:
        hook(*args, **kwargs)


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """Every log record so far as message and extra keys, as Powertools writes them."""
    return [{**record.__dict__, "message": record.getMessage()} for record in caplog.records]


def recommend(handler: Callable[..., Any], context: LocalLambdaContext) -> dict[str, Any]:
    response = handler(load_event("rerank_http_api_recommendations.json"), context)
    return {"status": response["statusCode"], **json.loads(response["body"])}


@pytest.fixture
def snap_start(monkeypatch: pytest.MonkeyPatch, s3: S3Client, serving_env: None) -> S3ModelStore:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    return S3ModelStore(BUCKET, "recsys")


def test_the_snapshot_holds_a_warm_model_and_a_restore_picks_up_a_newer_current(
    hooks: tuple[Hooks, Hooks],
    snap_start: S3ModelStore,
    variants: dict[str, Path],
    lambda_context: LocalLambdaContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = hooks
    publish(variants["a"], snap_start)
    handler = make_handler("rerank")
    provider = runtime.get_provider(True)
    assert provider.loaded is None  # import only registers: the work is the hook's
    assert [hook.__name__ for hook, _, _ in before] == ["before_snapshot"]
    assert [hook.__name__ for hook, _, _ in after] == ["after_restore"]

    snapshot(before)
    assert provider.loaded is not None and provider.loaded.version == "v1-a"
    ready = [line for line in logged(caplog) if line["message"] == "ready for the snapshot"]
    assert ready[0]["version"] == "v1-a"
    assert ready[0]["warm_up"] == {
        "GET /recommendations (known user)": 200,
        "GET /recommendations (unknown user)": 200,
        "POST /rerank": 200,
    }
    assert not metrics.metric_set  # the warm-up is not traffic

    client_in_snapshot = aws.s3()
    assert provider.source.store.client is client_in_snapshot  # type: ignore[attr-defined]
    publish(variants["b"], snap_start)  # while the snapshot sits in the cache
    random.seed(7)
    frozen_draw = random.random()
    random.seed(7)  # what every restored container would share without a re-seed

    restore(after)
    assert random.random() != frozen_draw
    assert provider.source.store.client is not client_in_snapshot  # type: ignore[attr-defined]
    [restored] = [line for line in logged(caplog) if line["message"] == "restored"]
    assert restored["current"] == "checking"  # in the background: the restore waits on no network call
    provider.wait()
    assert provider.loaded.version == "v2-b"
    answer = recommend(handler, lambda_context)
    assert answer["status"] == 200 and answer["model_version"] == "v2-b"


def test_a_restore_with_current_unchanged_keeps_the_snapshot_model(
    hooks: tuple[Hooks, Hooks],
    snap_start: S3ModelStore,
    variants: dict[str, Path],
    lambda_context: LocalLambdaContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = hooks
    publish(variants["a"], snap_start)
    handler = make_handler("rerank")
    snapshot(before)
    model = runtime.get_provider(True).loaded
    restore(after)
    runtime.get_provider(True).wait()
    assert runtime.get_provider(True).loaded is model
    assert recommend(handler, lambda_context)["model_version"] == "v1-a"


def test_with_no_model_published_init_succeeds_and_requests_answer_503_until_one_is(
    hooks: tuple[Hooks, Hooks],
    snap_start: S3ModelStore,
    variants: dict[str, Path],
    lambda_context: LocalLambdaContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = hooks
    handler = make_handler("rerank")
    snapshot(before)
    restore(after)
    lines = logged(caplog)
    assert [line["message"] for line in lines if line["message"] in {"snapshot without a model", "restored"}] == [
        "snapshot without a model",
        "restored",
    ]
    assert next(line for line in lines if line["message"] == "restored")["current"] == "not-loaded"
    unavailable = recommend(handler, lambda_context)
    assert unavailable["status"] == 503 and unavailable["error"]["code"] == "model_unavailable"

    publish(variants["a"], snap_start)
    answer = recommend(handler, lambda_context)
    assert answer["status"] == 200 and answer["model_version"] == "v1-a"


def test_a_bucket_that_cannot_be_read_fails_the_snapshot_instead_of_hiding(
    hooks: tuple[Hooks, Hooks], snap_start: S3ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_BUCKET", "a-bucket-that-does-not-exist")
    before, _ = hooks
    make_handler("rerank")
    with pytest.raises(ModelUnavailableError, match="cannot read the live version"):
        snapshot(before)  # the version is not published: the deploy fails and says why


def test_a_route_failing_its_warm_up_fails_the_snapshot(
    hooks: tuple[Hooks, Hooks], snap_start: S3ModelStore, variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(variants["a"], snap_start)
    before, _ = hooks
    make_handler("rerank")

    def broken(*args: object) -> None:
        raise ValueError("a bug in the ranking path")

    monkeypatch.setattr(RecommendationService, "rerank", broken)
    with pytest.raises(RuntimeError, match=r"warm-up requests failed.*'POST /rerank': 500"):
        snapshot(before)


def test_the_candidates_function_warms_its_own_routes(
    hooks: tuple[Hooks, Hooks], snap_start: S3ModelStore, variants: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    before, _ = hooks
    publish(variants["a"], snap_start)
    make_handler("candidates")
    snapshot(before)
    provider = runtime.get_provider(False)
    assert provider.loaded is not None and provider.loaded.recommender is not None
    ready = next(line for line in logged(caplog) if line["message"] == "ready for the snapshot")
    assert ready["warm_up"] == {"POST /candidates": 200, "GET /items/{item_id}/similar": 200}


def test_on_demand_start_registers_nothing_and_loads_on_the_first_request(
    hooks: tuple[Hooks, Hooks],
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    serving_env: None,
    variants: dict[str, Path],
    lambda_context: LocalLambdaContext,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    publish(variants["a"], S3ModelStore(BUCKET, "recsys"))
    handler = make_handler("rerank")
    assert hooks == ([], []) and runtime.get_provider(True).loaded is None
    assert recommend(handler, lambda_context)["model_version"] == "v1-a"


def test_provisioned_concurrency_prepares_during_init(
    hooks: tuple[Hooks, Hooks],
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    serving_env: None,
    variants: dict[str, Path],
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    publish(variants["a"], S3ModelStore(BUCKET, "recsys"))
    make_handler("rerank")
    loaded = runtime.get_provider(True).loaded
    assert hooks == ([], []) and loaded is not None and loaded.version == "v1-a"


def test_no_refresh_thread_is_frozen_into_the_snapshot(
    hooks: tuple[Hooks, Hooks], snap_start: S3ModelStore, variants: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm-up slower than MODEL_REFRESH_SECONDS starts a background check; the snapshot waits for it."""
    publish(variants["a"], snap_start)
    before, _ = hooks
    make_handler("rerank")
    provider = runtime.get_provider(True)
    ticks = iter(range(0, 10_000, 100))
    monkeypatch.setattr(provider, "_clock", lambda: float(next(ticks)))  # every look at the clock: 100 s later
    real_refresh = provider.refresh

    def slow_refresh() -> str:
        time.sleep(0.3)
        return real_refresh()

    monkeypatch.setattr(provider, "refresh", slow_refresh)
    snapshot(before)
    assert provider._refreshing is not None and not provider._refreshing.is_alive()


def test_the_hooks_run_without_x_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """No X-Ray segment exists outside an invocation: subsegments there would only log errors."""
    from aws_xray_sdk import global_sdk_config
    from recsys.runtime.snapstart import Preparation

    seen: list[bool] = []

    class Provider:
        def get(self) -> object:
            seen.append(global_sdk_config.sdk_enabled())
            return type("Model", (), {"version": "v"})()

        def wait(self) -> None: ...

        def recheck(self) -> str:
            seen.append(global_sdk_config.sdk_enabled())
            return "checking"

    monkeypatch.setattr(aws, "renew", lambda: None)
    previous = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    preparation = Preparation(
        provider=Provider, warm_up=lambda model: seen.append(global_sdk_config.sdk_enabled()) or {}
    )  # type: ignore[arg-type]
    try:
        preparation.before_snapshot()
        preparation.after_restore()
        assert seen == [False, False, False] and global_sdk_config.sdk_enabled()
    finally:
        global_sdk_config.set_sdk_enabled(previous)
