"""BatchScoringFunction: S3 notifications, and the Distributed Map's plan / score_range / finalize tasks."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recsys import aws
from recsys.batch.events import InputObject, is_test_event, s3_objects
from recsys.batch.job import BatchJob
from recsys.serving.lambda_entry import Handler
from recsys.serving.runtime import get_provider, get_settings
from recsys.serving.telemetry import logger, metrics, tracer


def _job() -> BatchJob:
    # the model first: with none, the invocation fails before anything is written
    model = get_provider().get()
    return BatchJob(model, get_settings(), aws.s3())


def _dispatch(source: InputObject) -> dict[str, Any]:
    settings = get_settings()
    if source.size > settings.batch_inline_max_bytes and settings.batch_state_machine_arn:
        sfn = aws.stepfunctions()
        name = f"{source.stem[:40]}-{source.etag[:16]}".replace(".", "-")
        try:
            execution = sfn.start_execution(
                stateMachineArn=settings.batch_state_machine_arn, name=name, input=json.dumps(source.to_dict())
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            return {"input": source.to_dict(), "skipped": "execution already started for this upload"}
        return {"input": source.to_dict(), "state_machine_execution": execution["executionArn"]}
    summary = _job().run(source)
    if "skipped" not in summary:
        metrics.add_metric(name="batch_rows_scored", unit=MetricUnit.Count, value=summary["rows_scored"])
        metrics.add_metric(name="batch_rows_failed", unit=MetricUnit.Count, value=summary["rows_failed"])
    return summary


def handle(event: dict[str, Any]) -> dict[str, Any]:
    if is_test_event(event):
        return {"skipped": "s3:TestEvent"}
    action = event.get("action")
    if action == "plan":
        return _job().plan(InputObject.from_dict(event))
    if action == "score_range":
        return _job().score_range(
            InputObject.from_dict(event), int(event["part"]), int(event["start"]), int(event["stop"])
        )
    if action == "finalize":
        return _job().finalize(
            InputObject.from_dict(event["input"]), list(event["results"]), float(event.get("started", time.time()))
        )
    return {"results": [_dispatch(source) for source in s3_objects(event)]}


def make_handler() -> Handler:
    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="invocations", unit=MetricUnit.Count, value=1)
        result = handle(event)
        logger.info("batch event handled", extra={"action": event.get("action", "s3"), "result_keys": sorted(result)})
        return result

    return cast(Handler, handler)
