"""The retraining workflow: template.yaml's state machine, executed by moto's Step Functions interpreter,
with its Lambda tasks answered in-process by the real handler (functions/retrain/retrain_handler.py).

History: the synthetic dataset before its last ten days, as `recsys train` would read it. The event log:
those ten days as Firehose objects, plus events that only the log knows about. The runs train for real.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import retrain_handler
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from recsys import artifacts as A
from recsys.errors import InputDataError
from recsys.retrain.inputs import gather, last_run_key, read_inputs
from recsys.retrain.steps import train_candidate
from recsys.runtime.local_context import LocalLambdaContext
from recsys.store.lifecycle import publish
from recsys.store.s3 import S3ModelStore
from recsys.synthetic import make_dataset

from ..conftest import FAST, load_event
from ..unit.test_template import RESOURCES
from .conftest import BUCKET, PREFIX, model_variant

REGION = "us-east-1"
NEW_ITEM, IMPRESSED_ONLY = "brand-new-item", "impressed-only-item"


def _log_object(rows: list[dict[str, Any]]) -> bytes:
    return gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode())


def _event(user: str, item: str, seconds: int, event_type: str = "click") -> dict[str, Any]:
    return {
        "user_id": user,
        "item_id": item,
        "timestamp": seconds,
        "sent_at_ms": seconds * 1000,
        "event_type": event_type,
        "session_id": f"s-{user}",
    }


@pytest.fixture
def bucket(aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The model bucket holding a history and an event log, and the retraining settings of the template."""
    interactions, items = make_dataset(seed=2)
    times = pd.to_datetime(interactions["timestamp"], utc=True)
    seconds = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    cutoff = int(seconds.max()) - 10 * 86_400
    history, recent = interactions[seconds <= cutoff], interactions[seconds > cutoff]
    events = [
        _event(str(user), str(item), int(s))
        for user, item, s in zip(recent["user_id"], recent["item_id"], seconds[seconds > cutoff], strict=True)
    ]
    users = sorted(set(interactions["user_id"]))
    # an item only the log knows, clicked by 40 users, and one only ever shown (not a counted type)
    events += [_event(u, NEW_ITEM, cutoff + 86_400 + i * 60) for i, u in enumerate(users[:40])]
    events += [_event(u, IMPRESSED_ONLY, cutoff + 86_400 + i * 60, "impression") for i, u in enumerate(users[:40])]
    events.append(dict(events[0]))  # Firehose delivered one record twice

    monkeypatch.setenv("MODEL_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_PREFIX", PREFIX)
    monkeypatch.setenv("TREND_EVENT_TYPES", "click")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessRecsys")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        buffer = io.BytesIO()
        history.to_parquet(buffer, index=False)
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/history/interactions/part-0.parquet", Body=buffer.getvalue())
        buffer = io.BytesIO()
        items.to_parquet(buffer, index=False)
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/history/items/items.parquet", Body=buffer.getvalue())
        settings = "\n".join(f"{key} = {value}" for key, value in (o.split("=", 1) for o in FAST))
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/history/train.toml", Body=settings.encode())
        half = len(events) // 2
        for n, part in enumerate((events[:half], events[half:])):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/events/2026/11/20/0{n}/log-{n}.gz", Body=_log_object(part))
        yield {"s3": s3, "history_rows": len(history), "events": events, "cutoff": cutoff}


@pytest.fixture
def workflow(bucket: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The template's state machine, its two functions answered by the handler in this process."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def invoke_in_process(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str) else event
        calls.append((function.function_name, payload))
        context = LocalLambdaContext(function.function_name, "52fdfc07-2182-154f-163f-5f0f9a621d72", 900_000)
        try:
            return json.dumps(retrain_handler.handler(payload, context)), False, ""
        except Exception as exc:  # what Lambda answers for an unhandled error
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_in_process)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="retrain", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("retrain_handler.py", "")
    lambdas = boto3.client("lambda", region_name=REGION)
    arns = {
        name: lambdas.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": code.getvalue()}
        )["FunctionArn"]
        for name in ("retrain", "training")
    }
    declared = RESOURCES["RetrainStateMachine"]["Properties"]
    definition = json.dumps(declared["Definition"])
    for name, arn in {"RetrainFunctionArn": arns["retrain"], "TrainingFunctionArn": arns["training"]}.items():
        assert name in declared["DefinitionSubstitutions"]
        definition = definition.replace("${" + name + "}", arn)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="retrain", definition=definition, roleArn=role)["stateMachineArn"]

    def run(name: str) -> dict[str, Any]:
        calls.clear()
        execution = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
        deadline = time.monotonic() + 600
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the workflow did not finish in 10 minutes"
            time.sleep(0.2)
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        return {**described, "states": entered, "calls": list(calls)}

    return run


def test_a_run_trains_on_the_history_and_the_log_and_publishes_through_the_gate(
    bucket: dict[str, Any], workflow: Any, tmp_path: Path
) -> None:
    store = S3ModelStore(BUCKET, PREFIX)
    first = workflow("weekly-1")
    assert first["status"] == "SUCCEEDED", first.get("cause")
    assert first["states"] == ["Gather", "AnythingNew", "Train", "Promote", "Live", "Published"]
    assert [(name, call["action"]) for name, call in first["calls"]] == [
        ("retrain", "gather"),
        ("training", "train"),
        ("retrain", "promote"),
    ]
    out = json.loads(first["output"])
    version = out["candidate"]["version"]
    assert store.current_version() == version and out["promotion"]["published"] is True
    # every history row, and each counted event once: the repeated record and the impressions are not rows
    clicks = len(bucket["events"]) - 1 - 40
    assert out["candidate"]["interactions"] == bucket["history_rows"] + clicks
    listed = bucket["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]
    read = [o["Size"] for o in listed if o["Key"].startswith((f"{PREFIX}/history/", f"{PREFIX}/events/"))]
    assert out["gathered"] == {"changed": True, "history_objects": 1, "event_objects": 2, "bytes": sum(read)}
    assert read_inputs(store, "weekly-1").event_types == ("click",)  # pinned for the run
    folder = tmp_path / "served"
    for name in (A.ITEM_IDS, A.MANIFEST):
        store.download_file(version, name, folder / name)
    items = set(pd.read_parquet(folder / A.ITEM_IDS)["item_id"])
    assert NEW_ITEM in items and IMPRESSED_ONLY not in items
    assert json.loads(store.get_bytes(last_run_key(store)) or b"{}")["version"] == version

    # the same inputs again: nothing new, no training, nothing moves
    again = workflow("weekly-2")
    assert again["status"] == "SUCCEEDED"
    assert again["states"] == ["Gather", "AnythingNew", "NothingNew"]
    assert [call["action"] for _, call in again["calls"]] == ["gather"]
    assert store.current_version() == version


def test_a_model_the_gate_refuses_is_kept_not_published_and_the_run_fails(
    bucket: dict[str, Any], workflow: Any, tmp_path: Path, synthetic_run: Any
) -> None:
    store = S3ModelStore(BUCKET, PREFIX)
    better = model_variant(synthetic_run.out, tmp_path, "v9-better", ndcg=0.99)
    publish(better, store)
    refused = workflow("weekly-1")
    assert refused["status"] == "FAILED"  # what RetrainingFailedAlarm counts
    assert refused["error"] == "GateRefused"
    assert "below live v9-better 0.9900" in refused["cause"]
    assert refused["states"][-2:] == ["Live", "GateRefused"]
    assert store.current_version() == "v9-better"
    version = refused["calls"][-1][1]["version"]
    assert f"recsys rollback --to {version}" in refused["cause"]
    assert "--force" not in refused["cause"]  # a CLI flag: the workflow has no way to pass it
    kept = store.manifest(version)  # complete in S3, just not live
    assert {entry.name for entry in kept.files} >= {A.RANKER, A.ITEM_IDS}
    # the gate judged these inputs: the next run stands down until something new arrives
    assert workflow("weekly-2")["states"] == ["Gather", "AnythingNew", "NothingNew"]
    bucket["s3"].put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}/events/2026/11/21/00/log-2.gz",
        Body=_log_object([_event("u00001", NEW_ITEM, bucket["cutoff"] + 9 * 86_400)]),
    )
    third = workflow("weekly-3")
    assert third["states"][:3] == ["Gather", "AnythingNew", "Train"] and third["error"] == "GateRefused"


def test_a_training_that_fails_fails_the_run_and_the_next_run_tries_again(
    bucket: dict[str, Any], workflow: Any
) -> None:
    s3 = bucket["s3"]
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/history/interactions/part-1.csv", Body=b"user_id,item_id\nu1,i1\n")
    failed = workflow("weekly-1")
    assert failed["status"] == "FAILED"
    assert failed["error"] == "InputDataError"
    assert "missing required column(s) 'timestamp'" in failed["cause"]
    assert failed["states"] == ["Gather", "AnythingNew", "Train"]
    store = S3ModelStore(BUCKET, PREFIX)
    assert store.current_version() is None and store.get_bytes(last_run_key(store)) is None
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/history/interactions/part-1.csv")
    gathered = retrain_handler.handler(load_event("retrain_gather.json"), LocalLambdaContext("retrain", "r", 60_000))
    assert gathered["changed"] is True  # a failed run is no reason to skip the next


def test_an_input_replaced_after_gathering_fails_the_training_instead_of_mixing_versions(
    bucket: dict[str, Any],
) -> None:
    store = S3ModelStore(BUCKET, PREFIX)
    inputs = gather(store, "weekly-1")
    replaced = inputs.events[0].key
    bucket["s3"].put_object(Bucket=BUCKET, Key=replaced, Body=_log_object(bucket["events"][:5]))
    with pytest.raises(InputDataError, match=f"s3://{BUCKET}/{replaced} changed or went away"):
        train_candidate(store, "weekly-1")
    assert store.versions() == []
