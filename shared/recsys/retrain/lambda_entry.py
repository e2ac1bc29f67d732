"""The retraining workflow's Lambda functions: RetrainFunction (gather, promote) and TrainingFunction (train).

RetrainFunction runs on the layer like the serving functions (its promote step loads the candidate as
serving would); TrainingFunction is a container image with the training libraries (infra/training/).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from recsys.retrain.inputs import RUN_PATTERN, gather, last_fingerprint
from recsys.runtime.container import get_model_store
from recsys.runtime.lambda_handler import Event, Handler, instrumented
from recsys.runtime.telemetry import logger, metrics
from recsys.store.s3 import S3ModelStore
from recsys.trends.settings import get_trend_settings


class StepRequest(BaseModel):
    """What the state machine passes (template.yaml, RetrainStateMachine)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["gather", "train", "promote"]
    run: str = Field(pattern=RUN_PATTERN)
    version: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,128}$")


def _store() -> S3ModelStore:
    return get_model_store("the retraining steps")


def _gather(request: StepRequest) -> dict[str, Any]:
    store = _store()
    previous = last_fingerprint(store)
    inputs = gather(store, request.run, get_trend_settings().trend_event_types)
    changed = inputs.fingerprint != previous
    return {
        "run": inputs.run,
        "changed": changed,
        "history_objects": len(inputs.interactions),
        "event_objects": len(inputs.events),
        "bytes": inputs.size,
    }


def _train(request: StepRequest) -> dict[str, Any]:
    from recsys.retrain.steps import train_candidate

    candidate = train_candidate(_store(), request.run)
    metrics.add_metric(name="retraining_seconds", unit=MetricUnit.Seconds, value=candidate.seconds)
    return asdict(candidate)


def _promote(request: StepRequest) -> dict[str, Any]:
    from recsys.retrain.steps import promote_candidate

    if request.version is None:
        raise ValueError("promote needs the version the train step uploaded")
    promotion = promote_candidate(_store(), request.run, request.version)
    name = "retraining_published" if promotion.published else "retraining_refused"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return asdict(promotion)


STEPS = {"gather": _gather, "train": _train, "promote": _promote}


def handle(event: Event, context: LambdaContext) -> dict[str, Any]:
    request = StepRequest.model_validate(event)
    result = STEPS[request.action](request)
    logger.info(f"retraining {request.action}", extra={"step": result})  # a promotion has a "message"
    return result


def make_handler() -> Handler:
    return instrumented(handle)
